/**
 * Capture: turns a consumer advisory (max deliveries reached, message terminated) into a DLQ
 * entry. The original is read back by stream sequence and stored byte for byte with provenance.
 * Under workqueue/interest retention a `term` deletes it before the advisory is even sent: then
 * the source's payload mirror (`keep_payload.ts`, same sequence numbers) still has it. When
 * neither has it (no mirror, the capture lagged past `capture_window`, limits expired it) a
 * provenance-only entry records what is known.
 * @module
 */
import type { JetStreamManager } from "@nats-io/jetstream";
import { deadLetter, type DlqPublisher, type DlqTarget } from "../../nats/dlq.ts";
import { getOriginal, type OriginalMessage } from "../../nats/msg_get.ts";
import { isStreamNotFound } from "../../nats/errors.ts";

/** The two advisories that mean "this consumer gave up on a message". */
export const ADVISORY_KINDS = {
  max_deliveries: "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES",
  terminated: "$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED",
} as const;

/** An advisory kind. */
export type AdvisoryKind = keyof typeof ADVISORY_KINDS;

/** The advisory subjects of one source. */
export function advisorySubjects(stream: string, consumer: string): string[] {
  return Object.values(ADVISORY_KINDS).map((prefix) => `${prefix}.${stream}.${consumer}`);
}

/** A parsed advisory. */
export interface Advisory {
  /** Which advisory. */
  kind: AdvisoryKind;
  /** Source stream. */
  stream: string;
  /** Consumer. */
  consumer: string;
  /** Stream sequence of the message. */
  seq: number;
  /** Deliveries so far. */
  deliveries: number;
  /** The consumer's term reason (servers 2.10.4+). */
  reason?: string;
  /** When the server sent it. */
  timestamp?: Date;
}

/** An advisory that cannot be understood (logged, then dropped). */
export class AdvisoryError extends Error {
  /** Stable error code. */
  readonly code = "BAD_ADVISORY";
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "AdvisoryError";
  }
}

/** Parses an advisory received on `subject`. */
export function parseAdvisory(subject: string, data: Uint8Array): Advisory {
  const kind = (Object.keys(ADVISORY_KINDS) as AdvisoryKind[]).find((k) =>
    subject.startsWith(`${ADVISORY_KINDS[k]}.`)
  );
  if (!kind) throw new AdvisoryError(`${subject} is not a consumer dead-letter advisory`);
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(new TextDecoder().decode(data));
  } catch {
    throw new AdvisoryError(`advisory on ${subject} is not JSON`);
  }
  const { stream, consumer, stream_seq, deliveries, reason, timestamp } = body;
  if (typeof stream !== "string" || typeof consumer !== "string") {
    throw new AdvisoryError(`advisory on ${subject} has no stream/consumer`);
  }
  if (typeof stream_seq !== "number" || !Number.isInteger(stream_seq) || stream_seq < 1) {
    throw new AdvisoryError(`advisory on ${subject} has no valid stream_seq`);
  }
  return {
    kind,
    stream,
    consumer,
    seq: stream_seq,
    deliveries: typeof deliveries === "number" ? deliveries : 0,
    reason: typeof reason === "string" && reason ? reason : undefined,
    timestamp: validDate(timestamp),
  };
}

function validDate(v: unknown): Date | undefined {
  if (typeof v !== "string") return undefined;
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

/** The `Jetport-Dlq-Reason` for an advisory. */
export function advisoryReason(adv: Advisory, originalFound: boolean, note = ""): string {
  const why = adv.kind === "max_deliveries"
    ? `max deliveries reached (${adv.deliveries})`
    : `terminated by consumer${adv.reason ? `: ${adv.reason}` : ""}`;
  return originalFound ? why : `${why}; original no longer in stream ${adv.stream} ` +
    `(acked away under workqueue/interest retention, expired or deleted${note}): provenance only`;
}

/**
 * How long after its advisory a message may be missing from a payload mirror that has not reached
 * its sequence yet before the entry is stored provenance-only: a mirror that stopped (its
 * consumer lost with a leader and not yet back) must not hold capture up forever.
 */
export const MIRROR_WAIT = 60_000;

/** What capture needs. */
export interface CaptureContext {
  /** Reads originals and stream configs. */
  jsm: JetStreamManager;
  /** Writes DLQ entries. */
  publisher: DlqPublisher;
  /** The DLQ. */
  target: DlqTarget;
  /** Whether `stream` allows direct get (cached by the caller). */
  allowDirect(stream: string): Promise<boolean>;
  /** The payload mirror of source `stream`, when one is in place. */
  mirrorOf(stream: string): string | undefined;
}

/** The result of one capture. */
export interface CaptureResult {
  /** False when the DLQ already had this (stream, seq). */
  stored: boolean;
  /** False for a provenance-only entry. */
  originalFound: boolean;
  /** DLQ sequence of the entry. */
  dlqSeq: number;
  /** The payload mirror the original was read from (it was gone from the source). */
  fromMirror?: string;
}

/** A payload mirror has not yet stored the message an advisory names: capture is retried. */
export class MirrorBehindError extends Error {
  /** Stable error code. */
  readonly code = "MIRROR_BEHIND";
  /** Creates the error. */
  constructor(mirror: string, seq: number, lastSeq: number) {
    super(`payload mirror ${mirror} is at seq ${lastSeq}, not yet at ${seq}`);
    this.name = "MirrorBehindError";
  }
}

/** Stores the message `adv` names in the DLQ. Throws when the DLQ cannot be written (retry). */
export async function capture(ctx: CaptureContext, adv: Advisory): Promise<CaptureResult> {
  let original = await read(ctx, adv.stream, adv.seq);
  const mirror = original ? undefined : ctx.mirrorOf(adv.stream);
  let note = "";
  if (mirror) {
    const kept = await readMirror(ctx, mirror, adv);
    original = kept.original;
    if (kept.behind) note = `; payload mirror ${mirror} had not reached it ${MIRROR_WAIT} ms later`;
  }
  const ack = await deadLetter(ctx.publisher, ctx.target, {
    stream: adv.stream,
    consumer: adv.consumer,
    subject: original?.subject ?? "",
    seq: adv.seq,
    deliveries: adv.deliveries,
    reason: advisoryReason(adv, original !== undefined, note),
    data: original?.data,
    headers: original?.headers,
    failedAt: adv.timestamp,
  });
  return {
    stored: !ack.duplicate,
    originalFound: original !== undefined,
    dlqSeq: ack.seq,
    fromMirror: original && mirror ? mirror : undefined,
  };
}

/** Message `seq` of `stream`; undefined when it or the whole stream is gone. */
async function read(
  ctx: CaptureContext,
  stream: string,
  seq: number,
): Promise<OriginalMessage | undefined> {
  const direct = await ctx.allowDirect(stream);
  return await getOriginal(ctx.jsm, stream, seq, direct).catch((err) => {
    // The whole stream gone is "original gone"; anything else (timeout) is worth a retry.
    if (isStreamNotFound(err)) return undefined;
    throw err;
  });
}

/**
 * Message `adv.seq` from a payload mirror. The server deletes a workqueue/interest message only
 * after the mirror's consumer took it, but the mirror may store it a moment after the advisory is
 * sent: a mirror that has not reached the sequence yet throws {@link MirrorBehindError} (capture
 * is retried) until {@link MIRROR_WAIT} after the advisory, then reports `behind`.
 */
async function readMirror(
  ctx: CaptureContext,
  mirror: string,
  adv: Advisory,
): Promise<{ original?: OriginalMessage; behind?: boolean }> {
  const found = await read(ctx, mirror, adv.seq);
  if (found) return { original: found };
  const info = await ctx.jsm.streams.info(mirror).catch((err) => {
    if (isStreamNotFound(err)) return undefined;
    throw err;
  });
  if (!info || info.state.last_seq >= adv.seq) return {};
  const age = adv.timestamp ? Date.now() - adv.timestamp.getTime() : Infinity;
  if (age < MIRROR_WAIT) throw new MirrorBehindError(mirror, adv.seq, info.state.last_seq);
  return { behind: true };
}
