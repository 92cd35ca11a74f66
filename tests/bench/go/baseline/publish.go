package main

import (
	"flag"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
)

// publishFlags: PublishAsync with at most `window` unacknowledged messages, each with a
// Nats-Msg-Id (as jetport's publisher sends), timed until every PubAck is in.
func publishFlags(flags *flag.FlagSet, n *int) func(*nats.Conn) (int, time.Duration, error) {
	subject := flags.String("subject", "bench.go", "subject")
	payload := flags.String("payload", `{"path":"a/b/c.txt","size":1234}`, "message payload")
	window := flags.Int("window", 1000, "most messages awaiting their PubAck")
	return func(nc *nats.Conn) (int, time.Duration, error) {
		var failed int64
		js, err := nc.JetStream(
			nats.PublishAsyncMaxPending(*window),
			nats.PublishAsyncErrHandler(func(nats.JetStream, *nats.Msg, error) { atomic.AddInt64(&failed, 1) }),
		)
		if err != nil {
			return 0, 0, err
		}
		data := []byte(*payload)
		start := time.Now()
		for i := 0; i < *n; i++ {
			if _, err := js.PublishAsync(*subject, data, nats.MsgId(fmt.Sprintf("go-%d", i))); err != nil {
				return 0, 0, err
			}
		}
		select {
		case <-js.PublishAsyncComplete():
		case <-time.After(5 * time.Minute):
			return 0, 0, fmt.Errorf("publishes not acknowledged after 5 minutes")
		}
		took := time.Since(start)
		if failed > 0 {
			return 0, 0, fmt.Errorf("%d publishes failed", failed)
		}
		return *n, took, nil
	}
}
