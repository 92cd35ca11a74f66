/**
 * What the monitor does with one batch of messages: a line per file event, all of them written to
 * the log and flushed, the written sequences committed to the journal (`written.ts`),
 * and only then the acks. A redelivery of an event that already has its line is acked without a
 * second line; a message that is not a file event goes to the DLQ (or is terminated) with a logged
 * reason, and the batch goes on.
 * @module
 */
import type { JsMsg } from "@nats-io/jetstream";
import type { Logger } from "@logtape/logtape";
import type { RotatingFile } from "../../platform/rotating_file.ts";
import { nakAfter } from "../../nats/ack.ts";
import {
  type DeadLetterDestination,
  deadLetterOrTerminate,
} from "../../nats/dead_letter_or_terminate.ts";
import { BadFileEventError } from "./event_line.ts";
import type { WrittenRecord } from "./written.ts";
import { logEnd } from "./log_tail.ts";
import type { Reacks } from "./reacks.ts";
import type { MonitorMetrics } from "./metrics.ts";

/** Redelivery delay for messages whose line could not be written, or whose DLQ copy failed. */
const RETRY_DELAY = 5_000;

/** What the batch writer works with (built at start). */
export interface BatchWriterParts {
  /** The log. */
  file: RotatingFile;
  /** The written-sequence journal. */
  written: WrittenRecord;
  /** Acks to send again after a leader change. */
  reacks: Reacks;
  /** The monitor's metrics. */
  metrics: MonitorMetrics;
  /** The role's logger. */
  log: Logger;
  /** The line of a message; throws {@link BadFileEventError} when it is not a file event. */
  format(msg: JsMsg, received: Date): string;
  /** The DLQ, when one is configured. */
  dlq: DeadLetterDestination | undefined;
  /** The connected server's version (term reasons). */
  serverVersion(): string | undefined;
}

/**
 * Returns the batch handler: writes, flushes and commits the batch's lines, then acks. Throws
 * when the log or the journal cannot be written (the written messages are naked first).
 */
export function createBatchWriter(parts: BatchWriterParts): (batch: JsMsg[]) => Promise<void> {
  const { file, written, reacks, metrics, log } = parts;

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

  return async function writeBatch(batch: JsMsg[]): Promise<void> {
    const received = new Date();
    const lines: string[] = [];
    const good: JsMsg[] = [];
    const bad: [JsMsg, string][] = [];
    const inBatch = new Set<number>();
    for (const msg of batch) {
      if (written.has(msg.seq) || inBatch.has(msg.seq)) {
        // Its line is written; its ack was lost (a leader change): ack it, do not write it again.
        msg.ack();
        reacks.remember(msg);
        metrics.skippedRedelivery();
        continue;
      }
      inBatch.add(msg.seq);
      try {
        lines.push(parts.format(msg, received));
        good.push(msg);
      } catch (err) {
        if (!(err instanceof BadFileEventError)) throw err;
        bad.push([msg, err.message]);
      }
    }
    if (good.length) {
      const t0 = performance.now();
      try {
        for (const line of lines) file.write(line); // whole lines: rotation falls between them
        await file.flush();
        await written.commit(good.map((m) => m.seq), logEnd(file.path));
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
      for (const msg of good) {
        msg.ack();
        reacks.remember(msg);
      }
      metrics.linesWritten(good.length);
      metrics.acked(good.length);
    }
    for (const [msg, reason] of bad) await reject(msg, reason);
  };
}
