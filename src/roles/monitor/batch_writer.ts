/**
 * What the monitor does with the messages it is handed: a line per file event, a group of them
 * written to the log and flushed, the written sequences committed to the journal (`written.ts`),
 * and only then the acks. A redelivery of an event that already has its line is acked without a
 * second line; a message that is not a file event goes to the DLQ (or is terminated) with a logged
 * reason, and the rest goes on.
 *
 * Group commit, so that the fsync per group (milliseconds on a real disk) is neither paid per
 * message when idle nor in series with the parsing when busy: a batch handed over while no group
 * is being flushed is written at once; batches handed over during a flush are parsed and
 * formatted right away (while the fsync runs) and wait as the next group, written together as
 * soon as the flush before them is acked. Groups go one at a time, in order, so the journal's
 * "the log ends here" stays exact. The handler returns before its group is settled: `drain()`
 * waits for that (the durable consumer calls it when a pull ends and at stop).
 * @module
 */
import type { JsMsg } from "@nats-io/jetstream";
import type { Logger } from "@logtape/logtape";
import type { RotatingFile } from "../../platform/rotating_file.ts";
import { nakAfter } from "../../nats/ack.ts";
import { ackAll, streamSeq } from "../../nats/ack_frames.ts";
import { delay } from "../../platform/delay.ts";
import {
  type DeadLetterDestination,
  deadLetterOrTerminate,
} from "../../nats/dead_letter_or_terminate.ts";
import { BadFileEventError, decodePayloads } from "./event_line.ts";
import type { WrittenRecord } from "./written.ts";
import { logEnd } from "./log_tail.ts";
import type { Reacks } from "./reacks.ts";
import type { MonitorMetrics } from "./metrics.ts";

/** How long a hand-over made during a flush waits for more to arrive (ms). */
const GATHER = 1;

/** Redelivery delay for messages whose line could not be written, or whose DLQ copy failed. */
const RETRY_DELAY = 5_000;

/** What the batch writer works with (built at start). */
export interface BatchWriterParts {
  /** The log. */
  file: RotatingFile;
  /** The log's `rotate.max_size`: lines are handed to it in chunks no larger than this. */
  maxSize: number;
  /** The written-sequence journal. */
  written: WrittenRecord;
  /** Acks to send again after a leader change. */
  reacks: Reacks;
  /** The monitor's metrics. */
  metrics: MonitorMetrics;
  /** The role's logger. */
  log: Logger;
  /**
   * The line of a message (`payload`: its data, or its text from {@link decodePayloads}; `seq`:
   * its stream sequence); throws {@link BadFileEventError} when it is not a file event.
   */
  format(msg: JsMsg, payload: Uint8Array | string, seq: number, received: Date): string;
  /** The DLQ, when one is configured. */
  dlq: DeadLetterDestination | undefined;
  /** The connected server's version (term reasons). */
  serverVersion(): string | undefined;
}

/** The monitor's message handler; see the module doc. */
export interface BatchWriter {
  /**
   * Takes a batch: formats its lines and writes them with the next group (at once when no group
   * is being flushed). Waits only while the next group is full. Rejects (naking the batch) once
   * a group has failed.
   */
  write(batch: JsMsg[]): Promise<void>;
  /** Resolves when every batch taken is written, committed and acked; rejects when one failed. */
  drain(): Promise<void>;
}

/** A message, its stream sequence and its line, or why it has none. */
type Entry = { msg: JsMsg; seq: number; line: string } | { msg: JsMsg; seq: number; bad: string };

/**
 * Returns the handler: messages are written, flushed and committed a group at a time (at most
 * `maxGroup` messages), then acked. A failure to write the log or the journal naks the group, and
 * every later `write` and `drain` rejects with it.
 */
export function createBatchWriter(parts: BatchWriterParts, maxGroup: number): BatchWriter {
  const { file, written, reacks, metrics, log } = parts;
  /** Formatted, waiting for the group being flushed. */
  let next: Entry[] = [];
  /** The group being flushed, committed and acked (then the next one, chained). */
  let flushing: Promise<void> | undefined;
  /** Resolved when `next` becomes the group being flushed (room for more). */
  let room: PromiseWithResolvers<void> | undefined;
  let failure: { error: unknown } | undefined;

  async function reject(msg: JsMsg, reason: string): Promise<void> {
    metrics.badMessage();
    const context = { stream: msg.info.stream, seq: msg.seq, subject: msg.subject, reason };
    const outcome = await deadLetterOrTerminate(msg, reason, {
      dlq: parts.dlq,
      retryDelay: RETRY_DELAY,
      serverVersion: parts.serverVersion(),
    });
    if (outcome.kind === "retry") {
      log.error(
        "bad message {stream} seq {seq}: {reason}; cannot store it in DLQ {dlq}: {error}; " +
          "retrying in {delay} ms",
        {
          ...context,
          dlq: parts.dlq?.target.stream,
          error: outcome.error.message,
          delay: RETRY_DELAY,
        },
      );
    } else if (outcome.kind === "dead_lettered") {
      log.error("bad message {stream} seq {seq} ({subject}): {reason}; moved to DLQ {dlq}", {
        ...context,
        dlq: parts.dlq?.target.stream,
      });
    } else {
      log.error(
        "bad message {stream} seq {seq} ({subject}): {reason}; terminated (no DLQ: add a " +
          "roles.dlq_redriver section to keep such messages)",
        context,
      );
    }
  }

  /** Writes one group: lines flushed and committed, then the acks; then the rejects. */
  async function commitGroup(group: Entry[]): Promise<void> {
    const good: JsMsg[] = [];
    const goodSeqs: number[] = [];
    const skipped: JsMsg[] = [];
    const skippedSeqs: number[] = [];
    const inGroup = new Set<number>();
    const chunk = lineChunks(file, parts.maxSize);
    for (const entry of group) {
      const { msg, seq } = entry;
      if (written.has(seq) || inGroup.has(seq)) {
        // Its line is written; its ack was lost (a leader change): ack it, do not write it again.
        // Checked here, not when formatted: the group before this one has committed by now.
        skipped.push(msg);
        skippedSeqs.push(seq);
        continue;
      }
      inGroup.add(seq);
      if ("bad" in entry) continue;
      chunk.add(entry.line);
      good.push(msg);
      goodSeqs.push(seq);
    }
    chunk.end();
    if (skipped.length) {
      reacks.remember(ackAll(skipped), skippedSeqs);
      metrics.skippedRedeliveries(skipped.length);
    }
    if (good.length) {
      const t0 = performance.now();
      try {
        await file.flush();
        await written.commit(goodSeqs, logEnd(file.path));
      } catch (err) {
        for (const msg of good) nakAfter(msg, RETRY_DELAY);
        log.error("{error}; {n} messages given back for redelivery", {
          error: (err as Error).message,
          n: good.length,
        });
        throw err;
      }
      metrics.flushed((performance.now() - t0) / 1000);
      // Only now is every line in the file and named in the journal: the acks may go out.
      reacks.remember(ackAll(good), goodSeqs);
      metrics.linesWritten(good.length);
      metrics.acked(good.length);
    }
    for (const entry of group) if ("bad" in entry) await reject(entry.msg, entry.bad);
  }

  /** Flushes `next` as a group, then whatever gathered meanwhile, until nothing waits. */
  async function flushAll(): Promise<void> {
    try {
      while (next.length) {
        const group = next;
        next = [];
        room?.resolve();
        room = undefined;
        await commitGroup(group);
      }
    } catch (error) {
      failure = { error };
      for (const { msg } of next) nakAfter(msg, RETRY_DELAY);
      next = [];
      throw error;
    } finally {
      flushing = undefined;
      room?.resolve();
      room = undefined;
    }
  }

  return {
    async write(batch) {
      // A full next group waits for the flush before it (the consumer's backpressure).
      while (flushing && next.length > 0 && next.length + batch.length > maxGroup) {
        room ??= Promise.withResolvers();
        await room.promise;
      }
      if (failure) {
        for (const msg of batch) nakAfter(msg, RETRY_DELAY);
        throw failure.error;
      }
      const received = new Date();
      const payloads = decodePayloads(batch.map((msg) => msg.data));
      for (let i = 0; i < batch.length; i++) {
        const msg = batch[i];
        const seq = streamSeq(msg);
        try {
          next.push({ msg, seq, line: parts.format(msg, payloads[i], seq, received) });
        } catch (err) {
          if (!(err instanceof BadFileEventError)) throw err;
          next.push({ msg, seq, bad: err.message });
        }
      }
      if (!flushing) {
        flushing = flushAll();
        flushing.catch(() => {}); // seen by the next write or drain
        return;
      }
      // A flush is running: let more arrive before taking them (a moment, or until the next group
      // starts), instead of a hand-over per message or two (a promise and a generator step each).
      room ??= Promise.withResolvers();
      await Promise.race([room.promise, delay(GATHER)]);
    },
    async drain() {
      while (flushing) await flushing.catch(() => {});
      if (failure) throw failure.error;
    },
  };
}

/**
 * Hands lines to `file` joined into chunks (one UTF-8 encoding per chunk instead of per line:
 * measured ~10x cheaper for a group of 500), each at most `maxSize` bytes (a UTF-16 unit is at
 * most 3 bytes), so that rotation still falls between whole lines and no file outgrows `maxSize`
 * except by a single line longer than it.
 */
function lineChunks(file: RotatingFile, maxSize: number) {
  const maxChars = Math.max(1, Math.floor(maxSize / 3));
  let lines: string[] = [];
  let chars = 0;
  const end = () => {
    if (lines.length) file.write(lines.length === 1 ? lines[0] : lines.join(""));
    lines = [];
    chars = 0;
  };
  return {
    add(line: string) {
      if (chars + line.length > maxChars) end();
      lines.push(line);
      chars += line.length;
    },
    end,
  };
}
