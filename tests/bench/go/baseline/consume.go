package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// fileEvent is the part of a file event the monitor's line shows.
type fileEvent struct {
	Type      string  `json:"type"`
	Operation string  `json:"operation"`
	Path      string  `json:"path"`
	Root      string  `json:"root"`
	OldPath   string  `json:"old_path"`
	FileSize  float64 `json:"file_size"`
	Timestamp string  `json:"timestamp"`
}

// line is the monitor's text line: `[2025-01-01 12:00:00] File ADDED: root/path, Size: 0.01 KB`.
func line(e *fileEvent) string {
	op := strings.ToUpper(e.Operation)
	if op == "" {
		op = strings.ToUpper(strings.TrimPrefix(e.Type, "file."))
	}
	if op == "CREATED" {
		op = "ADDED"
	}
	at, err := time.Parse(time.RFC3339Nano, e.Timestamp)
	if err != nil {
		at = time.Now()
	}
	show := func(p string) string {
		if e.Root == "" {
			return p
		}
		return path.Join(e.Root, p)
	}
	s := fmt.Sprintf("[%s] File %s: %s, Size: %.2f KB", at.Local().Format("2006-01-02 15:04:05"), op, show(e.Path), e.FileSize)
	if e.OldPath != "" {
		s += ", From: " + show(e.OldPath)
	}
	return s + "\n"
}

// consumeFlags: a pull consumer that fetches up to `batch` events, writes their lines, flushes
// (and syncs) the file, then acks each: what the monitor does, timed until N are acked.
func consumeFlags(flags *flag.FlagSet, n *int) func(*nats.Conn) (int, time.Duration, error) {
	stream := flags.String("stream", "FILES", "stream")
	consumer := flags.String("consumer", "go-monitor", "durable pull consumer (must exist)")
	out := flags.String("out", "storage_monitor.log", "log file")
	batch := flags.Int("batch", 500, "messages per fetch")
	fsync := flags.Bool("fsync", true, "sync the file before acking each batch")
	return func(nc *nats.Conn) (int, time.Duration, error) {
		js, err := nc.JetStream()
		if err != nil {
			return 0, 0, err
		}
		sub, err := js.PullSubscribe("", *consumer, nats.Bind(*stream, *consumer))
		if err != nil {
			return 0, 0, err
		}
		f, err := os.OpenFile(*out, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return 0, 0, err
		}
		defer f.Close()
		w := bufio.NewWriterSize(f, 1<<16)
		start := time.Now()
		done := 0
		for done < *n {
			msgs, err := sub.Fetch(*batch, nats.MaxWait(5*time.Second))
			if err != nil {
				return done, 0, fmt.Errorf("fetch after %d: %w", done, err)
			}
			for _, m := range msgs {
				var e fileEvent
				if err := json.Unmarshal(m.Data, &e); err != nil {
					return done, 0, err
				}
				w.WriteString(line(&e))
			}
			if err := w.Flush(); err != nil {
				return done, 0, err
			}
			if *fsync {
				if err := f.Sync(); err != nil {
					return done, 0, err
				}
			}
			for _, m := range msgs {
				if err := m.Ack(); err != nil {
					return done, 0, err
				}
			}
			done += len(msgs)
		}
		if err := nc.Flush(); err != nil {
			return done, 0, err
		}
		return done, time.Since(start), nil
	}
}
