/**
 * The `monitor` role: a durable pull consumer that writes every file event to a log file (the
 * original adapter's text line, or JSON lines) and acks only after the batch is flushed to disk.
 * Bad messages go to the DLQ (or are terminated with a logged reason) and the role keeps going.
 * A consumer deleted under it is recreated; while the stream or server is away it waits, says so
 * in the log and in `/readyz`.
 *
 * On a cluster (docs/nats-notes.md "Clusters") the consumer's leader can die with a pull request and
 * the last acks in its hands. The monitor pulls again as soon as a new leader is elected (its
 * advisory), or after two missed heartbeats, or at once after a 503; errors an election causes
 * (timeouts, no responders, "temporarily unavailable") are retried within seconds, never fatal;
 * and the stream sequences written but not yet below the consumer's ack floor are remembered:
 * their acks are sent again after a leader change (or when the floor stops moving), and a
 * redelivery of one of them is acked without writing its line twice.
 * @module
 */
import {
  type ConsumerMessages,
  jetstream,
  type JetStreamClient,
  type JetStreamManager,
  jetstreamManager,
  type JsMsg,
} from "@nats-io/jetstream";
import type { Role, RoleContext } from "../role.ts";
import type { MonitorConfig } from "./config.ts";
import { BadFileEventError, jsonLine, parseFileEvent, textLine } from "./event_line.ts";
import { DurableError, ensureDurable } from "./durable.ts";
import { batches } from "../../nats/batches.ts";
import { openRotatingFile, type RotatingFile } from "../../platform/rotating_file.ts";
import { nakAfter, terminate } from "../../nats/ack.ts";
import { deadLetter, type DlqTarget, dlqTarget } from "../../nats/dlq.ts";
import { backoffDelay } from "../../nats/connection.ts";
import { ackSubject, isTransient, onLeaderElected, reack } from "../../nats/leader_change.ts";

/** How often consumer info is read (lag metric, reachability, resume point). */
const INFO_INTERVAL = 5_000;
/** Redelivery delay for messages whose line could not be written, or whose DLQ copy failed. */
const RETRY_DELAY = 5_000;
/**
 * Pull request expiry; heartbeats are half of it, so a pull lost with its consumer leader shows
 * as two missed heartbeats within ~6 s (when no leader-elected advisory said so first).
 */
const PULL_EXPIRES = 6_000;
/** Most written-but-unconfirmed sequences remembered (oldest forgotten first). */
const UNCONFIRMED_MAX = 100_000;
/** Times an unconfirmed ack is sent again before it is forgotten (another instance may hold the floor). */
const MAX_REACKS = 3;
/** An iterator that ends sooner than this after it started is followed by a short pause. */
const MIN_ITERATOR_LIFE = 1000;

/** An event written to the log and acked, whose ack the consumer's ack floor does not show yet. */
interface Unconfirmed {
  /** The ack subject of its latest delivery. */
  reply: string;
  /** Times the ack was sent again. */
  reacks: number;
}

/** Creates the monitor role. */
export function createMonitor(ctx: RoleContext): Role {
  const cfg = ctx.config.roles.monitor as MonitorConfig;
  const { stream, consumer } = cfg;
  const where = `${stream}/${consumer}`;
  const labels = { stream, consumer };
  const log = ctx.log;
  const dlq: DlqTarget | undefined = dlqTarget(ctx.config);

  const m = ctx.metrics;
  const linesWritten = m.counter("monitor_lines_written_total", "Event lines written and flushed");
  const acked = m.counter("monitor_acked_total", "Messages acked after their line was flushed");
  const badMessages = m.counter(
    "monitor_bad_messages_total",
    "Messages that were not file events (dead-lettered or terminated)",
  );
  const recreated = m.counter(
    "monitor_consumer_recreated_total",
    "Times the monitor created its consumer because it was missing",
  );
  const lag = m.gauge("monitor_consumer_lag", "Messages in the stream not yet delivered");
  const ackPending = m.gauge("monitor_ack_pending", "Messages delivered and not yet acked");
  const flushSeconds = m.histogram("monitor_flush_seconds", "Time to write and flush a batch");
  const skippedRedeliveries = m.counter(
    "monitor_redeliveries_skipped_total",
    "Redelivered events whose line was already written (their ack was lost): acked, not rewritten",
  );
  const reacks = m.counter(
    "monitor_reacks_total",
    "Acks sent again after a consumer leader change (or a stuck ack floor)",
  );

  let file: RotatingFile | undefined;
  let messages: ConsumerMessages | undefined;
  let stopping = false;
  let loop: Promise<void> | undefined;
  let infoTimer: ReturnType<typeof setTimeout> | undefined;
  let notReady: string | undefined = `waiting for consumer ${where}`;
  let ackFloor = 0; // last known stream seq below which everything is acked: the resume point
  let seenConsumer = false; // the consumer existed during this run (missing now = deleted)
  let js: JetStreamClient | undefined;
  let wake: (() => void) | undefined; // ends a retry pause early (stop)
  /** Stream seq → ack subject of events written and acked above the last known ack floor. */
  const unconfirmed = new Map<number, Unconfirmed>();
  let lastFloor = -1; // ack floor at the previous info poll (a floor that stops moving → re-ack)
  let stopLeaderWatch: (() => void) | undefined;

  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });

  const format = (msg: JsMsg, received: Date): string => {
    const ev = parseFileEvent(msg.data);
    return cfg.output.format === "json"
      ? jsonLine(ev, { stream, seq: msg.seq, subject: msg.subject }, received)
      : textLine(ev, received);
  };

  /** Keeps `msg`'s ack subject until the consumer's ack floor passes it. */
  function remember(msg: JsMsg): void {
    const reply = ackSubject(msg);
    if (!reply) return;
    unconfirmed.set(msg.seq, { reply, reacks: 0 });
    if (unconfirmed.size > UNCONFIRMED_MAX) unconfirmed.delete(unconfirmed.keys().next().value!);
  }

  /** Sends every remembered ack again (no-ops for the ones the server has). */
  function reackUnconfirmed(why: string): void {
    const nc = ctx.nats.current();
    if (!nc || unconfirmed.size === 0) return;
    let n = 0;
    for (const [seq, entry] of unconfirmed) {
      reack(nc, entry.reply);
      n++;
      if (++entry.reacks >= MAX_REACKS) unconfirmed.delete(seq);
    }
    reacks.inc(labels, n);
    log.info("{why}: sent {n} acks of {where} again (those its old leader may have lost)", {
      why,
      n,
      where,
    });
  }

  /** Dead-letters (or terminates) a message that is not a file event. */
  async function reject(msg: JsMsg, reason: string): Promise<void> {
    badMessages.inc(labels);
    const context = { stream, seq: msg.seq, subject: msg.subject, reason };
    if (dlq) {
      try {
        await deadLetter(js!, dlq, {
          stream,
          consumer,
          subject: msg.subject,
          seq: msg.seq,
          deliveries: msg.info.deliveryCount,
          reason,
          data: msg.data,
          headers: msg.headers,
        });
      } catch (err) {
        log.error(
          "bad message {stream} seq {seq}: {reason}; cannot store it in DLQ {dlq}: {error}; " +
            "retrying in {delay} ms",
          { ...context, dlq: dlq.stream, error: (err as Error).message, delay: RETRY_DELAY },
        );
        nakAfter(msg, RETRY_DELAY);
        return;
      }
      log.error("bad message {stream} seq {seq} ({subject}): {reason}; moved to DLQ {dlq}", {
        ...context,
        dlq: dlq.stream,
      });
    } else {
      log.error(
        "bad message {stream} seq {seq} ({subject}): {reason}; terminated (no DLQ: add a " +
          "roles.dlq_redriver section to keep such messages)",
        context,
      );
    }
    terminate(msg, reason, ctx.nats.serverVersion());
  }

  /** Writes a batch, flushes it, then acks it. Returns false when the file cannot be written. */
  async function processBatch(batch: JsMsg[]): Promise<boolean> {
    const received = new Date();
    const written: JsMsg[] = [];
    const bad: [JsMsg, string][] = [];
    for (const msg of batch) {
      const earlier = unconfirmed.get(msg.seq);
      if (earlier) {
        // Written and acked before, but the ack died with a consumer leader: ack, do not rewrite.
        earlier.reply = ackSubject(msg) ?? earlier.reply;
        msg.ack();
        skippedRedeliveries.inc(labels);
        continue;
      }
      try {
        file!.write(format(msg, received));
        written.push(msg);
      } catch (err) {
        if (!(err instanceof BadFileEventError)) throw err;
        bad.push([msg, err.message]);
      }
    }
    if (written.length) {
      const t0 = performance.now();
      try {
        await file!.flush();
      } catch (err) {
        for (const msg of written) nakAfter(msg, RETRY_DELAY);
        log.error("{error}; {n} messages given back for redelivery", {
          error: (err as Error).message,
          n: written.length,
        });
        ctx.crash(err);
        return false;
      }
      flushSeconds.observe((performance.now() - t0) / 1000, labels);
      // Only now is every line in the file: acks may go out (batched on the socket).
      for (const msg of written) {
        msg.ack();
        remember(msg);
      }
      linesWritten.inc(labels, written.length);
      acked.inc(labels, written.length);
    }
    for (const [msg, reason] of bad) await reject(msg, reason);
    notReady = undefined;
    return true;
  }

  /** Reads messages until the iterator ends, in batches of what has arrived. */
  async function drain(iter: ConsumerMessages): Promise<boolean> {
    for await (const batch of batches(iter, cfg.batch)) {
      if (stopping) {
        // Intake stopped: give them back for another instance or the next start.
        for (const msg of batch) msg.nak();
        continue;
      }
      if (!await processBatch(batch)) return false;
    }
    return true;
  }

  /** Watches the iterator's notifications; ends it when the consumer is gone or silent. */
  async function watch(iter: ConsumerMessages): Promise<void> {
    for await (const s of iter.status()) {
      switch (s.type) {
        case "heartbeat":
          if (!stopping) notReady = undefined;
          break;
        case "consumer_deleted":
        case "consumer_not_found":
        case "stream_not_found":
          notReady = `consumer ${where} is gone (${s.type})`;
          log.warn("consumer {where} is gone ({what}); recreating it", { where, what: s.type });
          iter.close();
          return;
        case "no_responders":
          // Nobody leads the consumer right now (election): pull again once someone does.
          notReady = `consumer ${where} has no leader`;
          log.warn("consumer {where} has no leader (503); pulling again", { where });
          iter.close();
          return;
        case "heartbeats_missed":
          notReady = `no heartbeats from consumer ${where}`;
          log.warn("missed {count} heartbeats from consumer {where}; pulling again", {
            count: s.count,
            where,
          });
          iter.close();
          return;
        case "exceeded_limits":
          log.warn("pull request for {where} refused: {description}", {
            where,
            description: s.description,
          });
          break;
      }
    }
  }

  /** Reads consumer info now and then: lag metrics, readiness, and the resume point. */
  async function pollInfo(jsm: JetStreamManager): Promise<void> {
    try {
      const info = await jsm.consumers.info(stream, consumer);
      const floor = info.ack_floor.stream_seq;
      ackFloor = Math.max(ackFloor, floor);
      for (const seq of unconfirmed.keys()) if (seq <= floor) unconfirmed.delete(seq);
      // A floor stuck below acks sent a whole poll ago: they were lost (a leader change the
      // advisory did not tell), or another instance holds the floor; re-acking is harmless.
      const stuck = floor === lastFloor && info.num_ack_pending > 0;
      lastFloor = floor;
      if (stuck && [...unconfirmed.values()].some((e) => e.reacks === 0)) {
        reackUnconfirmed(`ack floor of ${where} stuck at ${floor}`);
      }
      lag.set(info.num_pending, labels);
      ackPending.set(info.num_ack_pending, labels);
      if (messages) notReady = undefined;
    } catch (err) {
      if (!stopping) notReady = `cannot reach consumer ${where}: ${(err as Error).message}`;
    }
  }

  /** Ensures the consumer, consumes until the iterator ends, and again, until stopped. */
  async function run(): Promise<void> {
    let failures = 0;
    let iterations = 0;
    while (!stopping) {
      let startedAt = 0;
      try {
        const nc = await ctx.nats.ready;
        stopLeaderWatch ??= onLeaderElected(nc, stream, consumer, () => {
          if (!messages || stopping) return;
          log.info("consumer {where} has a new leader; pulling again", { where });
          messages.close();
        });
        const jsm = await jetstreamManager(nc);
        js = jetstream(nc);
        const resumeAt = seenConsumer && ackFloor > 0 ? ackFloor + 1 : undefined;
        const { info, created } = await ensureDurable(jsm, {
          stream,
          consumer,
          filterSubject: cfg.filter_subject,
          startSeq: resumeAt,
        });
        if (created) {
          recreated.inc(labels);
          if (resumeAt) {
            log.warn("consumer {where} was deleted; recreated it resuming at stream seq {seq}", {
              where,
              seq: resumeAt,
            });
          } else log.info("created consumer {where} (ack explicit, deliver all)", { where });
        }
        seenConsumer = true;
        ackFloor = Math.max(ackFloor, info.ack_floor.stream_seq);
        if (stopping) return;
        const c = await js.consumers.get(stream, consumer);
        const iter = await c.consume({ max_messages: cfg.batch, expires: PULL_EXPIRES });
        messages = iter;
        startedAt = Date.now();
        if (failures > 0) log.info("consuming {where} again", { where });
        // Any pull after the first may follow a leader change: the old leader may have lost acks.
        if (iterations++ > 0) reackUnconfirmed(`pulling ${where} again`);
        failures = 0;
        notReady = undefined;
        clearInterval(infoTimer);
        infoTimer = setInterval(() => pollInfo(jsm), INFO_INTERVAL);
        watch(iter).catch((err) => {
          log.warn("consumer notifications of {where} ended: {error}", {
            where,
            error: err.message,
          });
          iter.close();
        });
        if (!await drain(iter)) return;
        // Ended at once (503 right after a pull): give the election a moment.
        const lived = Date.now() - startedAt;
        if (!stopping && lived < MIN_ITERATOR_LIFE) await pause(MIN_ITERATOR_LIFE - lived);
      } catch (err) {
        if (stopping) return;
        if (err instanceof DurableError && err.code === "PUSH_CONSUMER") {
          notReady = err.message;
          ctx.crash(err);
          return;
        }
        // An election takes seconds: retry those errors often; a missing stream may take long.
        const transient = isTransient(err);
        const delay = transient
          ? backoffDelay(failures++, 500, 4000, 250)
          : backoffDelay(failures++, 1000, 30_000, 250);
        notReady = `consumer ${where} unavailable: ${(err as Error).message}`;
        log.warn("consumer {where} unavailable: {error}{hint}; trying again in {delay} ms", {
          where,
          error: (err as Error).message,
          hint: transient ? " (a leader election or a node restarting?)" : "",
          delay,
        });
        await pause(delay);
      } finally {
        messages?.close();
        messages = undefined;
      }
    }
  }

  return {
    name: "monitor",
    async start() {
      file = await openRotatingFile(cfg.output.path, {
        maxSize: cfg.output.rotate.max_size,
        keep: cfg.output.rotate.keep,
        fsync: cfg.output.fsync,
      });
      log.info("writing events of {where} to {path} ({format})", {
        where,
        path: cfg.output.path,
        format: cfg.output.format,
      });
      loop = run();
    },
    async stop(deadline) {
      stopping = true;
      clearInterval(infoTimer);
      stopLeaderWatch?.();
      wake?.();
      // Ends the iterator after what it already holds: the batch in hand is written, flushed and
      // acked; messages behind it are naked by the loop.
      messages?.close();
      if (loop) {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const late = new Promise<void>((r) => {
          timer = setTimeout(r, Math.max(0, deadline - Date.now()));
        });
        await Promise.race([loop, late]);
        clearTimeout(timer);
      }
      await file?.close().catch((err) => {
        log.error("closing {path}: {error}", { path: cfg.output.path, error: err.message });
      });
    },
    notReadyReason: () => notReady,
  };
}
