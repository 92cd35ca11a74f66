/**
 * Capture: turns a consumer advisory (max deliveries reached, message terminated) into a DLQ
 * entry. The original is read back by stream sequence and stored byte for byte with provenance;
 * when it is gone (under workqueue/interest retention a `term` deletes it before the advisory is
 * even sent; limits may have expired it) a provenance-only entry records what is known.
 * @module
 */
import type { JetStreamManager } from "@nats-io/jetstream";
import { deadLetter, type DlqPublisher, type DlqTarget } from "../../nats/dlq.ts";
import { getOriginal } from "../../nats/msg_get.ts";

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
export function advisoryReason(adv: Advisory, originalFound: boolean): string {
  const why = adv.kind === "max_deliveries"
    ? `max deliveries reached (${adv.deliveries})`
    : `terminated by consumer${adv.reason ? `: ${adv.reason}` : ""}`;
  return originalFound ? why : `${why}; original no longer in stream ${adv.stream} ` +
    "(acked away under workqueue/interest retention, expired or deleted): provenance only";
}

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
}

/** The result of one capture. */
export interface CaptureResult {
  /** False when the DLQ already had this (stream, seq). */
  stored: boolean;
  /** False for a provenance-only entry. */
  originalFound: boolean;
  /** DLQ sequence of the entry. */
  dlqSeq: number;
}

/** Stores the message `adv` names in the DLQ. Throws when the DLQ cannot be written (retry). */
export async function capture(ctx: CaptureContext, adv: Advisory): Promise<CaptureResult> {
  const direct = await ctx.allowDirect(adv.stream);
  const original = await getOriginal(ctx.jsm, adv.stream, adv.seq, direct).catch((err) => {
    // The whole stream gone is "original gone"; anything else (timeout) is worth a retry.
    if (/stream not found/i.test((err as Error).message)) return undefined;
    throw err;
  });
  const ack = await deadLetter(ctx.publisher, ctx.target, {
    stream: adv.stream,
    consumer: adv.consumer,
    subject: original?.subject ?? "",
    seq: adv.seq,
    deliveries: adv.deliveries,
    reason: advisoryReason(adv, original !== undefined),
    data: original?.data,
    headers: original?.headers,
    failedAt: adv.timestamp,
  });
  return { stored: !ack.duplicate, originalFound: original !== undefined, dlqSeq: ack.seq };
}
