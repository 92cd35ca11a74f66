/**
 * The publisher's in-flight table: every message from its first send to its PubAck or failure,
 * its retry schedule (timeout, backoff, deadline) driven by one sweeper timer, and the order lanes
 * that hold back a message while an earlier one with the same order key is unacknowledged. The
 * window, the waiting producers and closing are `publisher.ts`'s.
 * @module
 */
import {
  headers as newHeaders,
  type Msg,
  type MsgHdrs,
  type NatsConnection,
  nuid,
  type Subscription,
} from "@nats-io/nats-core";
import type { Labels, Registry } from "../http/metrics.ts";
import { createOrderLanes } from "./order_lanes.ts";
import { createFrameWriter } from "./publish_frames.ts";
import { replyNumber } from "./reply_number.ts";
import {
  type AttemptFailure,
  parseAckReply,
  type PubAck,
  PublishError,
  type PublishErrorCode,
} from "./publish_error.ts";

/** One message to publish. */
export interface OutgoingMessage {
  /** The subject; a stream must capture it. */
  subject: string;
  /** The payload. */
  data: Uint8Array | string;
  /** `Nats-Msg-Id` for the stream's duplicate window; a fresh unique id when omitted. */
  msgId?: string;
  /** Extra headers (`Nats-Expected-Last-Sequence`, ...); `Nats-Msg-Id` is set on them when sent. */
  headers?: MsgHdrs;
  /**
   * Messages sharing a key are stored in the order they were published: this one is sent once
   * every earlier message with one of these keys is acknowledged (see `publisher.ts`).
   */
  orderKeys?: readonly string[];
}

/**
 * Told the outcome of one message, once: its PubAck, or the {@link PublishError} it failed with.
 * Called synchronously while a reply is read: it must not throw, and should not block.
 */
export type PublishCallback = (err: PublishError | undefined, ack: PubAck | undefined) => void;

/** What {@link createInFlight} needs (the publisher's options, defaults applied). */
export interface InFlightOptions {
  /** How long one attempt waits for its PubAck before it is sent again (ms). */
  ackTimeout: number;
  /** How long a message may take in all, retries included, counted from its first send (ms). */
  deadline: number;
  /** Longest pause between attempts (ms). */
  maxBackoff: number;
  /** Prefix of the reply subjects (a fresh inbox). */
  prefix: string;
  /** Metrics go here when given. */
  metrics?: Registry;
  /** The labels of the metrics. */
  label: { publisher: string };
  /**
   * Called when a message settled (after it left its lanes, before the idle check): hands the
   * slot to a waiting message, synchronously, so `flush` never sees a gap.
   */
  onSlotFree(): void;
  /** Whether messages wait for a slot (the table is idle only when none do). */
  hasWaiting(): boolean;
  /** Called when every message settled and none waits. */
  onIdle(): void;
}

/** The in-flight table of one publisher; see the module docs. */
export interface InFlight {
  /** Messages in the table (sent, or waiting for an earlier one with the same order key). */
  readonly size: number;
  /**
   * Adds `msg` and sends it unless an earlier message with one of its keys is in flight; `done`
   * is told its outcome.
   */
  start(msg: OutgoingMessage, done: PublishCallback): void;
  /** Fails every message in the table with `closed`. */
  failAll(): void;
  /** Stops the sweeper and unsubscribes from the replies. */
  stop(): void;
}

interface Entry {
  msg: OutgoingMessage;
  msgId: string;
  /** Its payload, as given: the frame writer encodes text straight into its frame. */
  data: Uint8Array | string;
  /** Its number: the last token of its reply subject (base 36), and its key in `entries`. */
  id: number;
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
  /** Told the outcome, once. */
  done: PublishCallback;
}

const INITIAL_BACKOFF = 100;
const LINE_BREAK = /[\r\n]/;
/** Shared by every message without order keys (one allocation less per publish). */
const NO_KEYS: readonly string[] = [];

/** Creates the in-flight table of a publisher on `nc`, subscribed to its replies. */
export function createInFlight(nc: NatsConnection, options: InFlightOptions): InFlight {
  const { ackTimeout, deadline, maxBackoff, prefix, label } = options;
  const metrics = publisherMetrics(options.metrics, label);
  // By number, not by reply subject: a string key is hashed on every set and lookup, which cost
  // more than the rest of a publish (profiled at 100k messages).
  const entries = new Map<number, Entry>();
  // Per order key, its messages in publish order; the head is the only one sent.
  const lanes = createOrderLanes<Entry>();
  let counter = 0;
  let sweeper: ReturnType<typeof setTimeout> | undefined;

  const write = createFrameWriter(nc, prefix);
  const sub: Subscription = nc.subscribe(`${prefix}.>`, { callback: (_err, msg) => onReply(msg) });

  // One timer for all messages: a per-message timer costs more than the publish itself.
  const sweepEvery = Math.max(10, Math.min(100, Math.floor(ackTimeout / 4)));
  function ensureSweeper() {
    if (sweeper === undefined) sweeper = setInterval(sweep, sweepEvery);
  }

  function stopSweeper() {
    if (sweeper !== undefined) clearInterval(sweeper);
    sweeper = undefined;
  }

  function updateGauge() {
    metrics?.inFlight.set(entries.size);
  }

  /**
   * Takes `e` out of its lanes. `released`: it was stored or will never be (its successors may
   * go now); otherwise it may not be stored and they must not overtake it: they fail `blocked`.
   */
  function leaveLanes(e: Entry, released: boolean) {
    for (const n of lanes.leave(e)) {
      if (!entries.has(n.id)) continue; // failed meanwhile through another lane
      if (!released) {
        fail(
          n,
          "blocked",
          `publish to ${n.msg.subject} not sent: an earlier message with the same order key ` +
            `(${e.msgId}) failed`,
        );
      } else if (!n.sent && lanes.heads(n)) send(n);
    }
  }

  function settled(e: Entry, released: boolean) {
    entries.delete(e.id);
    if (e.keys.length > 0) leaveLanes(e, released);
    options.onSlotFree();
    updateGauge();
    if (entries.size === 0 && !options.hasWaiting()) {
      stopSweeper();
      options.onIdle();
    }
  }

  function fail(e: Entry, code: PublishErrorCode, message: string, extra = {}) {
    if (!entries.has(e.id)) return; // settled already (a lane failed it as blocked)
    // Refused by the stream: it will never be stored, so it cannot be overtaken.
    settled(e, code === "stream_error" || code === "invalid_ack");
    metrics?.failures.inc({ ...label, code });
    e.done(entryError(e, code, message, extra), undefined);
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
      write(e.msg.subject, e.id, e.msgId, e.msg.headers, e.data);
    } catch (err) {
      fail(e, "closed", `cannot publish to ${e.msg.subject}: ${(err as Error).message}`);
    }
  }

  function retryLater(e: Entry, failure: AttemptFailure) {
    e.lastFailure = failure;
    metrics?.retries.inc({ ...label, reason: failure });
    const pause = Math.min(maxBackoff, INITIAL_BACKOFF * 2 ** Math.min(e.attempts - 1, 16));
    e.backingOff = true;
    e.dueAt = Date.now() + pause * (0.5 + Math.random() / 2);
  }

  function onReply(msg: Msg) {
    const e = entries.get(replyNumber(msg, prefix.length));
    if (!e) return; // a late ack of an attempt already settled
    const reply = parseAckReply(msg);
    switch (reply.kind) {
      case "ack":
        settled(e, true);
        metrics?.published.inc();
        if (reply.ack.duplicate) metrics?.duplicates.inc();
        e.done(undefined, reply.ack);
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

  const sweep = () => sweepDue(entries, deadline, { fail, send, retryLater });

  return {
    get size() {
      return entries.size;
    },
    start(msg, done) {
      const msgId = msg.msgId ?? nuid.next();
      const id = counter++;
      const e = newEntry(msg, msgId, msg.data, id, done);
      entries.set(id, e);
      updateGauge();
      ensureSweeper();
      if (lanes.join(e)) send(e);
    },
    failAll() {
      for (const e of [...entries.values()]) {
        fail(e, "closed", `publisher closed before a PubAck for ${e.msg.subject} arrived`);
      }
    },
    stop() {
      stopSweeper();
      if (!nc.isClosed()) sub.unsubscribe();
    },
  };
}

/**
 * Throws nats.js's error for a `Nats-Msg-Id` with a line break, as a publish always did at once
 * (the frame path does not build headers, so it does not check them itself).
 */
export function checkMsgId(msgId: string | undefined): void {
  if (msgId !== undefined && LINE_BREAK.test(msgId)) newHeaders().set("Nats-Msg-Id", msgId);
}

/** A new, unsent entry. */
function newEntry(
  msg: OutgoingMessage,
  msgId: string,
  data: Uint8Array | string,
  id: number,
  done: PublishCallback,
): Entry {
  return {
    msg,
    msgId,
    data,
    id,
    attempts: 0,
    // A message has one key (a file), seldom two: only then can they repeat.
    keys: !msg.orderKeys
      ? NO_KEYS
      : msg.orderKeys.length < 2
      ? msg.orderKeys
      : [...new Set(msg.orderKeys)],
    sent: false,
    deadlineAt: 0,
    dueAt: 0,
    backingOff: false,
    done,
  };
}

/** The error `e` fails with. */
function entryError(e: Entry, code: PublishErrorCode, message: string, extra: object) {
  return new PublishError(code, message, {
    subject: e.msg.subject,
    msgId: e.msgId,
    attempts: e.attempts,
    lastFailure: e.lastFailure,
    ...extra,
  });
}

/** What the sweeper does to an entry that is due. */
interface SweepActions {
  fail(e: Entry, code: PublishErrorCode, message: string): void;
  send(e: Entry): void;
  retryLater(e: Entry, failure: AttemptFailure): void;
}

/**
 * The sweeper: fails the sent entries past their deadline, sends again those whose backoff is
 * over, and schedules a retry of those whose attempt timed out.
 */
function sweepDue(entries: Map<number, Entry>, deadline: number, act: SweepActions) {
  const now = Date.now();
  for (const e of entries.values()) {
    if (!e.sent) continue;
    if (now >= e.deadlineAt) {
      act.fail(
        e,
        "deadline_exceeded",
        `publish to ${e.msg.subject} failed after ${e.attempts} attempt(s) in ${deadline} ms: ` +
          `${deadlineReason(e.lastFailure)}; check that a stream captures the subject and ` +
          `that NATS is reachable`,
      );
    } else if (now >= e.dueAt) {
      if (e.backingOff) act.send(e);
      else act.retryLater(e, "timeout");
    }
  }
}

/** Why a message ran out of time, from its last failed attempt. */
function deadlineReason(lastFailure: AttemptFailure | undefined): string {
  return lastFailure === "no_responders"
    ? "no stream answered (no stream captures the subject, or it has no leader)"
    : lastFailure === "unavailable"
    ? "JetStream was unavailable"
    : "no PubAck arrived";
}

/**
 * The publisher's metrics in `m`, or undefined without a registry; the series counted per message
 * are bound to `label` once.
 */
function publisherMetrics(m: Registry | undefined, label: Labels) {
  if (!m) return undefined;
  return {
    published: m.counter("publisher_published_total", "Messages stored (PubAck received)")
      .bind(label),
    duplicates: m.counter(
      "publisher_duplicates_total",
      "Messages the stream reported as duplicates of an earlier Nats-Msg-Id",
    ).bind(label),
    retries: m.counter("publisher_retries_total", "Publish attempts repeated, by reason"),
    failures: m.counter("publisher_failures_total", "Messages that failed for good, by code"),
    inFlight: m.gauge("publisher_in_flight", "Messages awaiting their PubAck").bind(label),
  };
}
