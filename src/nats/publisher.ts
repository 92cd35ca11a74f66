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
import {
  createInbox,
  headers as newHeaders,
  type Msg,
  type MsgHdrs,
  type NatsConnection,
  nuid,
  type Subscription,
} from "@nats-io/nats-core";
import type { Registry } from "../http/metrics.ts";
import {
  type AttemptFailure,
  parseAckReply,
  type PubAck,
  PublishError,
  type PublishErrorCode,
} from "./publish_error.ts";

export { type PubAck, PublishError, type PublishErrorCode } from "./publish_error.ts";

/** One message to publish. */
export interface OutgoingMessage {
  /** The subject; a stream must capture it. */
  subject: string;
  /** The payload. */
  data: Uint8Array | string;
  /** `Nats-Msg-Id` for the stream's duplicate window; a fresh unique id when omitted. */
  msgId?: string;
  /** Extra headers (`Nats-Expected-Last-Sequence`, ...); `Nats-Msg-Id` is set on them. */
  headers?: MsgHdrs;
  /**
   * Messages sharing a key are stored in the order they were published: this one is sent once
   * every earlier message with one of these keys is acknowledged (see the module docs).
   */
  orderKeys?: readonly string[];
}

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
  /** Resolves when the window has a free slot (backpressure for producers that loop). */
  room(): Promise<void>;
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

interface Entry {
  msg: OutgoingMessage;
  msgId: string;
  headers: MsgHdrs;
  /** Its number: the last token of `reply`, and its key in `entries`. */
  id: number;
  reply: string;
  attempts: number;
  /** Its order keys; it is sent only while it heads each of their lanes. */
  keys: readonly string[];
  /** False while it waits for an earlier message with one of its keys. */
  sent: boolean;
  /** When the whole message fails. */
  deadlineAt: number;
  /** When the current attempt times out (waiting) or the next attempt is sent (backing off). */
  dueAt: number;
  backingOff: boolean;
  lastFailure?: AttemptFailure;
  resolve(ack: PubAck): void;
  reject(err: PublishError): void;
}

const INITIAL_BACKOFF = 100;
/** Shared by every message without order keys (one allocation less per publish). */
const NO_KEYS: readonly string[] = [];

/** Creates a publisher on `nc` (already connected). */
export function createPublisher(nc: NatsConnection, options: PublisherOptions = {}): Publisher {
  const window = Math.max(1, options.window ?? 1024);
  const ackTimeout = options.ackTimeout ?? 5000;
  const deadline = options.deadline ?? 30_000;
  const maxBackoff = options.maxBackoff ?? 2000;
  const label = { publisher: options.name ?? "default" };
  const m = options.metrics;
  const published = m?.counter("publisher_published_total", "Messages stored (PubAck received)");
  const duplicates = m?.counter(
    "publisher_duplicates_total",
    "Messages the stream reported as duplicates of an earlier Nats-Msg-Id",
  );
  const retries = m?.counter("publisher_retries_total", "Publish attempts repeated, by reason");
  const failures = m?.counter("publisher_failures_total", "Messages that failed for good, by code");
  const inFlightGauge = m?.gauge("publisher_in_flight", "Messages awaiting their PubAck");

  const prefix = createInbox(options.inboxPrefix);
  // By number, not by reply subject: a string key is hashed on every set and lookup, which cost
  // more than the rest of a publish (profiled at 100k messages).
  const entries = new Map<number, Entry>();
  // Per order key, its messages in publish order; the head is the only one sent.
  const lanes = new Map<string, Entry[]>();
  // Called with `true` when the publisher closes before the waiter got a slot.
  const waiting: Array<(abort: boolean) => void> = [];
  let idle: Array<() => void> = [];
  let counter = 0;
  let closed = false;
  let sweeper: ReturnType<typeof setTimeout> | undefined;

  const sub: Subscription = nc.subscribe(`${prefix}.>`, { callback: (_err, msg) => onReply(msg) });

  // One timer for all messages: a per-message timer costs more than the publish itself.
  const sweepEvery = Math.max(10, Math.min(100, Math.floor(ackTimeout / 4)));
  function ensureSweeper() {
    if (sweeper === undefined) sweeper = setInterval(sweep, sweepEvery);
  }

  function updateGauge() {
    inFlightGauge?.set(entries.size, label);
  }

  /** Hands free slots to waiting messages (synchronously, so `flush` never sees a gap). */
  function pump() {
    while (waiting.length > 0 && entries.size < window) waiting.shift()!(false);
  }

  /**
   * Takes `e` out of its lanes. `released`: it was stored or will never be (its successors may
   * go now); otherwise it may not be stored and they must not overtake it: they fail `blocked`.
   */
  function leaveLanes(e: Entry, released: boolean) {
    const next: Entry[] = [];
    for (const key of e.keys) {
      const lane = lanes.get(key)!;
      const i = lane.indexOf(e);
      lane.splice(i, 1);
      if (lane.length === 0) lanes.delete(key);
      else if (i < lane.length) next.push(lane[i]);
    }
    for (const n of next) {
      if (!entries.has(n.id)) continue; // failed meanwhile through another lane
      if (!released) {
        fail(
          n,
          "blocked",
          `publish to ${n.msg.subject} not sent: an earlier message with the same order key ` +
            `(${e.msgId}) failed`,
        );
      } else if (!n.sent && n.keys.every((k) => lanes.get(k)![0] === n)) send(n);
    }
  }

  function settled(e: Entry, released: boolean) {
    entries.delete(e.id);
    if (e.keys.length > 0) leaveLanes(e, released);
    pump();
    updateGauge();
    if (entries.size === 0 && waiting.length === 0) {
      if (sweeper !== undefined) {
        clearInterval(sweeper);
        sweeper = undefined;
      }
      const resolvers = idle;
      idle = [];
      resolvers.forEach((r) => r());
    }
  }

  function fail(e: Entry, code: PublishErrorCode, message: string, extra = {}) {
    if (!entries.has(e.id)) return; // settled already (a lane failed it as blocked)
    // Refused by the stream: it will never be stored, so it cannot be overtaken.
    settled(e, code === "stream_error" || code === "invalid_ack");
    failures?.inc({ ...label, code });
    e.reject(
      new PublishError(code, message, {
        subject: e.msg.subject,
        msgId: e.msgId,
        attempts: e.attempts,
        lastFailure: e.lastFailure,
        ...extra,
      }),
    );
  }

  function send(e: Entry) {
    if (!e.sent) {
      e.sent = true;
      e.deadlineAt = Date.now() + deadline;
    }
    e.attempts++;
    e.backingOff = false;
    e.dueAt = Date.now() + ackTimeout;
    try {
      nc.publish(e.msg.subject, e.msg.data, { reply: e.reply, headers: e.headers });
    } catch (err) {
      fail(e, "closed", `cannot publish to ${e.msg.subject}: ${(err as Error).message}`);
    }
  }

  function retryLater(e: Entry, failure: AttemptFailure) {
    e.lastFailure = failure;
    retries?.inc({ ...label, reason: failure });
    const pause = Math.min(maxBackoff, INITIAL_BACKOFF * 2 ** Math.min(e.attempts - 1, 16));
    e.backingOff = true;
    e.dueAt = Date.now() + pause * (0.5 + Math.random() / 2);
  }

  function onReply(msg: Msg) {
    const e = entries.get(parseInt(msg.subject.slice(prefix.length + 1), 36));
    if (!e) return; // a late ack of an attempt already settled
    const reply = parseAckReply(msg);
    switch (reply.kind) {
      case "ack":
        settled(e, true);
        published?.inc(label);
        if (reply.ack.duplicate) duplicates?.inc(label);
        e.resolve(reply.ack);
        return;
      case "retry":
        if (!e.backingOff) retryLater(e, reply.failure);
        return;
      case "error":
        fail(
          e,
          "stream_error",
          `stream refused message on ${e.msg.subject}: ${reply.description}` +
            (reply.apiCode ? ` (err_code ${reply.apiCode})` : ""),
          { apiCode: reply.apiCode, status: reply.status },
        );
        return;
      case "invalid":
        fail(
          e,
          "invalid_ack",
          `unexpected reply to a publish on ${e.msg.subject}: ${reply.description}`,
        );
    }
  }

  function sweep() {
    const now = Date.now();
    for (const e of entries.values()) {
      if (!e.sent) continue;
      if (now >= e.deadlineAt) {
        const why = e.lastFailure === "no_responders"
          ? "no stream answered (no stream captures the subject, or it has no leader)"
          : e.lastFailure === "unavailable"
          ? "JetStream was unavailable"
          : "no PubAck arrived";
        fail(
          e,
          "deadline_exceeded",
          `publish to ${e.msg.subject} failed after ${e.attempts} attempt(s) in ${deadline} ms: ` +
            `${why}; check that a stream captures the subject and that NATS is reachable`,
        );
      } else if (now >= e.dueAt) {
        if (e.backingOff) send(e);
        else retryLater(e, "timeout");
      }
    }
  }

  function closedError(msg: OutgoingMessage): PublishError {
    return new PublishError("closed", `publisher is closed; cannot publish to ${msg.subject}`, {
      subject: msg.subject,
      msgId: msg.msgId ?? "",
      attempts: 0,
    });
  }

  function start(msg: OutgoingMessage): Promise<PubAck> {
    const msgId = msg.msgId ?? nuid.next();
    const h = msg.headers ?? newHeaders();
    h.set("Nats-Msg-Id", msgId);
    const id = counter++;
    const reply = `${prefix}.${id.toString(36)}`;
    return new Promise<PubAck>((resolve, reject) => {
      const e: Entry = {
        msg,
        msgId,
        headers: h,
        id,
        reply,
        attempts: 0,
        keys: msg.orderKeys ? [...new Set(msg.orderKeys)] : NO_KEYS,
        sent: false,
        deadlineAt: 0,
        dueAt: 0,
        backingOff: false,
        resolve,
        reject,
      };
      entries.set(id, e);
      updateGauge();
      ensureSweeper();
      let first = true;
      for (const key of e.keys) {
        const lane = lanes.get(key);
        if (lane) {
          lane.push(e);
          first = false;
        } else lanes.set(key, [e]);
      }
      if (first) send(e);
    });
  }

  function room(): Promise<void> {
    if (entries.size < window && waiting.length === 0) return Promise.resolve();
    return new Promise((r) => waiting.push(() => r()));
  }

  function publish(msg: OutgoingMessage): Promise<PubAck> {
    if (closed) return Promise.reject(closedError(msg));
    if (entries.size < window && waiting.length === 0) return start(msg);
    return new Promise<PubAck>((resolve, reject) => {
      waiting.push((abort) => abort ? reject(closedError(msg)) : start(msg).then(resolve, reject));
    });
  }

  function flush(): Promise<void> {
    if (entries.size === 0 && waiting.length === 0) return Promise.resolve();
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
      for (const e of [...entries.values()]) {
        fail(e, "closed", `publisher closed before a PubAck for ${e.msg.subject} arrived`);
      }
    }
    if (sweeper !== undefined) clearInterval(sweeper);
    sweeper = undefined;
    if (!nc.isClosed()) sub.unsubscribe();
  }

  return {
    publish,
    room,
    flush,
    close,
    get inFlight() {
      return entries.size;
    },
    get queued() {
      return waiting.length;
    },
  };
}
