/**
 * The one JetStream publisher every role uses: a bounded window of in-flight publishes sent with
 * core `publish` and a reply subject, the PubAcks collected on ONE wildcard inbox subscription
 * (about 6× the throughput of awaiting `js.publish`, see docs/nats-notes.md "The client side").
 * Each message gets a `Nats-Msg-Id` (the caller's or a fresh one), so a retry after a timeout or a
 * 503 "no responders" (a stream electing a leader, a server restarting) is stored at most once
 * inside the stream's duplicate window. Errors are surfaced per message as {@link PublishError}.
 *
 * Order: messages that share an order key (the watcher uses one per file) are never in flight at
 * the same time. Pipelining them is not safe: when the first one's attempt is lost (its stream
 * leader died before storing it, or the 503 of an election) and the second one's is not, the
 * retry stores the first after the second, and no retry can undo that. Holding the window while a
 * message is retried does not help either: the second message may already be stored by then. So
 * a message waits until every earlier message sharing one of its keys is acknowledged; messages
 * with other keys keep the window full, which keeps the throughput (one file's events rarely
 * come faster than one round trip). When a message fails in a way that may leave it unstored
 * (deadline, close), the messages queued behind it fail as `blocked` without being sent, so the
 * caller can publish them again in order.
 * @module
 */
import { createInbox, type NatsConnection } from "@nats-io/nats-core";
import type { Registry } from "../http/metrics.ts";
import {
  checkMsgId,
  createInFlight,
  type OutgoingMessage,
  type PublishCallback,
} from "./in_flight.ts";
import { type PubAck, PublishError } from "./publish_error.ts";

export { type PubAck, PublishError, type PublishErrorCode } from "./publish_error.ts";
export type { OutgoingMessage, PublishCallback } from "./in_flight.ts";

/** Options of {@link createPublisher}. */
export interface PublisherOptions {
  /** Most publishes awaiting their PubAck at once; more wait for a free slot. Default 1024. */
  window?: number;
  /** How long one attempt waits for its PubAck before it is sent again (ms). Default 5000. */
  ackTimeout?: number;
  /**
   * How long a message may take in all, retries included, before it fails (ms), counted from its
   * first send (a message waiting for an earlier one with the same order key is not sent yet).
   * Default 30000.
   */
  deadline?: number;
  /** Longest pause between attempts (ms). Default 2000. */
  maxBackoff?: number;
  /** Metrics go here when given (labelled with `name`). */
  metrics?: Registry;
  /** The `publisher` label of the metrics, e.g. the role's name. Default "default". */
  name?: string;
  /** Prefix of the reply subjects. Default `_INBOX`. */
  inboxPrefix?: string;
}

/** A running publisher; see the module docs. */
export interface Publisher {
  /**
   * Publishes `msg`; resolves with the PubAck or rejects with a {@link PublishError}. Callers
   * must handle the rejection. When the window is full the message waits for a free slot.
   */
  publish(msg: OutgoingMessage): Promise<PubAck>;
  /**
   * Publishes `msg` like {@link Publisher.publish} and tells `done` the outcome instead of
   * returning a promise: for producers of many messages that count outcomes (`jetport publish
   * --file`), a promise and its reactions per message are garbage the collector pays for.
   * `done` runs synchronously while replies are read: it must not throw. When the window is full
   * the message waits for a free slot; a message given after `close` fails with `closed`.
   */
  send(msg: OutgoingMessage, done: PublishCallback): void;
  /** Resolves when the window has a free slot (backpressure for producers that loop). */
  room(): Promise<void>;
  /**
   * True while a publish would wait for a slot. Producers that have several messages ready
   * publish them in one go while this is false: nats.js writes what is published in one turn of
   * the event loop as one socket write, while an `await` per message costs one write each.
   */
  readonly full: boolean;
  /** Resolves once every message published so far is acknowledged or has failed. */
  flush(): Promise<void>;
  /**
   * Stops accepting messages, flushes, and unsubscribes. Messages still unacknowledged at
   * `until` (ms since epoch, default: no limit beyond each message's deadline) fail with `closed`.
   */
  close(until?: number): Promise<void>;
  /**
   * Messages in the window: sent and awaiting their PubAck (or a retry), or waiting for an
   * earlier message with the same order key.
   */
  readonly inFlight: number;
  /** Messages waiting for a free slot in the window. */
  readonly queued: number;
}

/** Creates a publisher on `nc` (already connected). */
export function createPublisher(nc: NatsConnection, options: PublisherOptions = {}): Publisher {
  const window = Math.max(1, options.window ?? 1024);
  const prefix = createInbox(options.inboxPrefix);
  // Called with `true` when the publisher closes before the waiter got a slot.
  const waiting: Array<(abort: boolean) => void> = [];
  let idle: Array<() => void> = [];
  let closed = false;

  const inFlight = createInFlight(nc, {
    ackTimeout: options.ackTimeout ?? 5000,
    deadline: options.deadline ?? 30_000,
    maxBackoff: options.maxBackoff ?? 2000,
    prefix,
    metrics: options.metrics,
    label: { publisher: options.name ?? "default" },
    // Hands free slots to waiting messages (synchronously, so `flush` never sees a gap).
    onSlotFree() {
      while (waiting.length > 0 && inFlight.size < window) waiting.shift()!(false);
    },
    hasWaiting: () => waiting.length > 0,
    onIdle() {
      const resolvers = idle;
      idle = [];
      resolvers.forEach((r) => r());
    },
  });

  const hasRoom = () => inFlight.size < window && waiting.length === 0;

  function room(): Promise<void> {
    if (hasRoom()) return Promise.resolve();
    return new Promise((r) => waiting.push(() => r()));
  }

  /** Starts `msg` now if the window has room, else once it has (or fails it at close). */
  function enqueue(msg: OutgoingMessage, done: PublishCallback): void {
    if (hasRoom()) inFlight.start(msg, done);
    else {
      waiting.push((abort) =>
        abort ? done(closedError(msg), undefined) : inFlight.start(msg, done)
      );
    }
  }

  function send(msg: OutgoingMessage, done: PublishCallback): void {
    if (closed) return done(closedError(msg), undefined);
    checkMsgId(msg.msgId);
    enqueue(msg, done);
  }

  function publish(msg: OutgoingMessage): Promise<PubAck> {
    if (closed) return Promise.reject(closedError(msg));
    checkMsgId(msg.msgId);
    return new Promise<PubAck>((resolve, reject) =>
      enqueue(msg, (err, ack) => err ? reject(err) : resolve(ack!))
    );
  }

  function flush(): Promise<void> {
    if (inFlight.size === 0 && waiting.length === 0) return Promise.resolve();
    return new Promise((r) => idle.push(r));
  }

  async function close(until?: number): Promise<void> {
    closed = true;
    if (until === undefined) await flush();
    else {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        flush(),
        new Promise((r) => (timer = setTimeout(r, Math.max(0, until - Date.now())))),
      ]);
      clearTimeout(timer);
      for (const w of waiting.splice(0)) w(true);
      inFlight.failAll();
    }
    inFlight.stop();
  }

  return {
    publish,
    send,
    room,
    flush,
    close,
    get full() {
      return !hasRoom();
    },
    get inFlight() {
      return inFlight.size;
    },
    get queued() {
      return waiting.length;
    },
  };
}

/** The error of a message published after `close`. */
function closedError(msg: OutgoingMessage): PublishError {
  return new PublishError("closed", `publisher is closed; cannot publish to ${msg.subject}`, {
    subject: msg.subject,
    msgId: msg.msgId ?? "",
    attempts: 0,
  });
}
