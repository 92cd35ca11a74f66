/**
 * Redrive: put a dead letter back on its original subject, then remove it from the DLQ.
 *
 * The order makes an interruption safe. The entry is deleted only after the source stream acked
 * the republished message, so a stop between the two steps loses nothing; the republished
 * message carries a `Nats-Msg-Id` derived from (stream, seq, redrive count), so redriving the same
 * entry again (after such a stop, or by two redrivers at once) is dropped by the source stream's
 * duplicate window instead of delivered twice.
 * @module
 */
import { delay } from "../../platform/delay.ts";
import type { JetStreamManager } from "@nats-io/jetstream";
import {
  type DlqPublisher,
  type DlqTarget,
  provenanceOf,
  publishWith,
  redriveHeaders,
  redriveMsgId,
} from "../../nats/dlq.ts";
import { getOriginal } from "../../nats/msg_get.ts";

/** What happened to one entry. */
export type RedriveOutcome =
  /** Republished and removed from the DLQ. */
  | "redriven"
  /** Provenance-only entry (the original was gone): nothing to republish; left in the DLQ. */
  | "missing"
  /** No longer in the DLQ (redriven or purged by someone else meanwhile). */
  | "gone"
  /** Not written by jetport (no provenance headers): left alone. */
  | "foreign";

/** Thrown for an entry that could not be redriven (publish refused, delete failed, ...). */
export class RedriveError extends Error {
  /** Stable error code. */
  readonly code = "REDRIVE";
  /** Creates the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "RedriveError";
  }
}

/** What a redrive needs: where the DLQ is and how to publish. */
export interface RedriveContext {
  /** Publishes the message back (the fast publisher, or a JetStreamClient). */
  publisher: DlqPublisher;
  /** Reads and deletes DLQ entries. */
  jsm: JetStreamManager;
  /** The DLQ. */
  target: DlqTarget;
  /** Read entries with direct get (the DLQ stream has `allow_direct`). */
  direct: boolean;
}

/** Redrives DLQ entry `dlqSeq`; see the module doc. */
export async function redriveOne(ctx: RedriveContext, dlqSeq: number): Promise<RedriveOutcome> {
  const entry = await getOriginal(ctx.jsm, ctx.target.stream, dlqSeq, ctx.direct);
  if (!entry) return "gone";
  const p = provenanceOf(entry.headers);
  if (!p) return "foreign";
  if (p.missing || !p.subject) return "missing";
  const headers = redriveHeaders(entry.headers!);
  // Back into the stream it came from, not into another that happens to take the subject.
  headers.set("Nats-Expected-Stream", p.stream);
  const msgId = redriveMsgId(p.stream, p.seq, p.redrives + 1);
  try {
    await publishWith(ctx.publisher, p.subject, entry.data, headers, msgId);
  } catch (err) {
    throw new RedriveError(
      `DLQ seq ${dlqSeq} (${p.stream} seq ${p.seq}): cannot republish to ${p.subject}: ` +
        `${(err as Error).message}; it stays in the DLQ`,
      { cause: err },
    );
  }
  try {
    await ctx.jsm.streams.deleteMessage(ctx.target.stream, dlqSeq, false);
  } catch (err) {
    // Gone already (a concurrent redrive or purge) is what we wanted.
    if (await getOriginal(ctx.jsm, ctx.target.stream, dlqSeq, ctx.direct)) {
      throw new RedriveError(
        `DLQ seq ${dlqSeq}: republished to ${p.subject} but not removed from ${ctx.target.stream}: ` +
          `${(err as Error).message}; a repeated redrive is dropped as a duplicate within the ` +
          `source stream's duplicate window`,
        { cause: err },
      );
    }
  }
  return "redriven";
}

/** Counts of a batch redrive. */
export interface RedriveSummary {
  /** Entries considered. */
  total: number;
  /** Outcome → count. */
  outcomes: Record<RedriveOutcome | "failed", number>;
  /** True when stopped by the signal before the end. */
  interrupted: boolean;
}

/** Options of {@link redriveMany}. */
export interface RedriveManyOptions {
  /** At most this many per second. */
  rate: number;
  /** Stops after the entry in progress. */
  signal?: AbortSignal;
  /** Called after each entry. */
  onEntry?: (dlqSeq: number, outcome: RedriveOutcome | "failed", error?: Error) => void;
}

/**
 * Redrives `dlqSeqs` in order, at most `rate` per second, one at a time (each entry is
 * republished and deleted before the next starts, so a stop leaves nothing half done). A failed
 * entry is reported and skipped.
 */
export async function redriveMany(
  ctx: RedriveContext,
  dlqSeqs: readonly number[],
  options: RedriveManyOptions,
): Promise<RedriveSummary> {
  const summary: RedriveSummary = {
    total: dlqSeqs.length,
    outcomes: { redriven: 0, missing: 0, gone: 0, foreign: 0, failed: 0 },
    interrupted: false,
  };
  const interval = 1000 / options.rate;
  const started = performance.now();
  for (let i = 0; i < dlqSeqs.length; i++) {
    await delay(started + i * interval - performance.now(), options.signal);
    if (options.signal?.aborted) {
      summary.interrupted = true;
      break;
    }
    try {
      const outcome = await redriveOne(ctx, dlqSeqs[i]);
      summary.outcomes[outcome]++;
      options.onEntry?.(dlqSeqs[i], outcome);
    } catch (err) {
      summary.outcomes.failed++;
      options.onEntry?.(dlqSeqs[i], "failed", err as Error);
    }
  }
  return summary;
}
