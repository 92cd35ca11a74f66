// Command baseline is the Go-client side of `make bench`: the same work jetport's roles do, done
// the plain way with nats.go, so every jetport figure can be printed beside it as a ratio.
//
//	baseline publish -url U -subject S -n N -payload P [-window 1000]
//	baseline consume -url U -stream S -consumer C -n N -out FILE [-batch 500] [-fsync]
//	baseline upload  -url U -stream S -consumer C -n N -dir D -endpoint E -access A -secret K -master B64 [-workers 3] [-warm W]
//	baseline noop-http
//
// Each prints one JSON line: {"count": N, "seconds": S, "cpu_seconds": C} (C: the process's CPU
// time, user + system, start-up included); noop-http prints {"port": P} and serves
// `{}` to every request until its stdin closes.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
)

type result struct {
	Count      int     `json:"count"`
	Seconds    float64 `json:"seconds"`
	CPUSeconds float64 `json:"cpu_seconds"`
}

func main() {
	if len(os.Args) < 2 {
		fail("usage: baseline publish|consume|upload|noop-http [flags]")
	}
	if os.Args[1] == "noop-http" {
		serveNoop()
		return
	}
	flags := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	url := flags.String("url", nats.DefaultURL, "NATS server URL")
	n := flags.Int("n", 100000, "messages to handle")
	var run func(nc *nats.Conn) (int, time.Duration, error)
	switch os.Args[1] {
	case "publish":
		run = publishFlags(flags, n)
	case "consume":
		run = consumeFlags(flags, n)
	case "upload":
		run = uploadFlags(flags, n)
	default:
		fail("unknown command " + os.Args[1])
	}
	flags.Parse(os.Args[2:])
	nc, err := nats.Connect(*url, nats.Name("jetport-bench-go"))
	if err != nil {
		fail(err.Error())
	}
	defer nc.Close()
	count, took, err := run(nc)
	if err != nil {
		fail(err.Error())
	}
	var usage syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &usage)
	cpu := time.Duration(usage.Utime.Nano() + usage.Stime.Nano())
	out, _ := json.Marshal(result{Count: count, Seconds: took.Seconds(), CPUSeconds: cpu.Seconds()})
	fmt.Println(string(out))
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, "baseline:", msg)
	os.Exit(1)
}
