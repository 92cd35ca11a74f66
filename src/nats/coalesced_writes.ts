/**
 * Makes a nats.js connection write what it has to send once per turn of the event loop, not once
 * per microtask checkpoint.
 *
 * nats.js queues its socket write on a microtask when the first bytes go into its outbound buffer.
 * Work started by one batch of I/O (replies read from the socket, a file written, an HTTP answer)
 * runs as a chain of promise reactions, and the write's microtask fires after the first link of
 * the chain: what the later links send goes out in writes of its own. On loopback a socket write
 * costs tens of microseconds of the sender's CPU (the kernel runs the receiving side of TCP in the
 * sender's system call): profiles of the upload processor showed writes as its largest cost, 4.3
 * of them for the five messages of one upload. Here the write is moved to `setImmediate`, which
 * runs once the event loop has run every callback and reaction of its current turn, so one write
 * carries all of them; the delay is that of a turn of the loop, not a timer's.
 *
 * This reaches into nats.js's protocol handler (`flushPending`, `close`; not public API,
 * nats-core 3.x), checked once: a connection without them is left as it is. Once a close has begun,
 * writes go out at once again: what is buffered, and what is published while it closes, is sent
 * before the socket goes, as nats.js's own microtask would have sent it.
 * @module
 */
import type { NatsConnection } from "@nats-io/nats-core";
import { setImmediate } from "node:timers";

interface Protocol {
  flushPending(): void;
  close(err?: Error): Promise<void>;
}

/** Defers the connection's socket writes to the end of the event loop's turn; see the module. */
export function coalesceWrites(nc: NatsConnection): void {
  const protocol = (nc as unknown as { protocol?: Partial<Protocol> }).protocol;
  if (typeof protocol?.flushPending !== "function" || typeof protocol.close !== "function") return;
  const flushNow = protocol.flushPending.bind(protocol);
  const close = protocol.close.bind(protocol);
  let scheduled = false;
  let closing = false;
  const flush = () => {
    scheduled = false;
    flushNow();
  };
  protocol.flushPending = () => {
    // Closing: the socket may be gone by the next turn.
    if (closing) return flushNow();
    if (scheduled) return;
    scheduled = true;
    setImmediate(flush);
  };
  protocol.close = (err) => {
    closing = true;
    flushNow();
    return close(err);
  };
}
