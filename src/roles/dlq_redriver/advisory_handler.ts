/**
 * Turns one advisory into one DLQ entry, at most once per (stream, seq): the DLQ's contents are
 * indexed at start and every capture is remembered, so a repeated advisory (the backup path
 * hearing what the advisory stream also stored, a redelivery) is counted, not stored again.
 * @module
 */
import type { DlqHandles } from "./handles.ts";
import {
  type Advisory,
  AdvisoryError,
  capture,
  type CaptureContext,
  parseAdvisory,
} from "./capture.ts";
import { listEntries } from "./entries.ts";

/** How long a stream's `allow_direct` is trusted before it is read again. */
const STREAM_INFO_TTL = 60_000;

/** Captures advisories. */
export interface AdvisoryHandler {
  /**
   * Captures the advisory received on `subject`; false when it should be retried later. `backup`:
   * it came from the core-NATS backup, where finding it already captured is the normal case.
   */
  handle(subject: string, data: Uint8Array, backup?: boolean): Promise<boolean>;
  /** Reads the DLQ once: which (stream, seq) it already holds. */
  index(): Promise<void>;
}

/** Creates the handler; `mirrorOf` names a source's payload mirror. */
export function createAdvisoryHandler(
  h: DlqHandles,
  mirrorOf: (stream: string) => string | undefined,
): AdvisoryHandler {
  const { log, metrics } = h;
  /** `stream:seq` of everything in (or put into) the DLQ. */
  const inDlq = new Set<string>();
  const directCache = new Map<string, { direct: boolean; at: number }>();

  async function allowDirect(stream: string): Promise<boolean> {
    const cached = directCache.get(stream);
    if (cached && Date.now() - cached.at < STREAM_INFO_TTL) return cached.direct;
    // A failed read (an election) is not cached: a wrong "no direct get" would send every read
    // to the stream leader for a minute.
    const info = await h.jsm.streams.info(stream).catch(() => undefined);
    const direct = info?.config.allow_direct === true;
    if (info) directCache.set(stream, { direct, at: Date.now() });
    return direct;
  }

  const ctx: CaptureContext = {
    jsm: h.jsm,
    publisher: h.publisher,
    target: h.target,
    allowDirect,
    mirrorOf,
  };

  return {
    async handle(subject, data, backup = false) {
      let adv: Advisory;
      try {
        adv = parseAdvisory(subject, data);
      } catch (err) {
        if (!(err instanceof AdvisoryError)) throw err;
        log.warn("ignoring advisory: {error}", { error: err.message });
        return true;
      }
      const source = `${adv.stream}/${adv.consumer}`;
      const key = `${adv.stream}:${adv.seq}`;
      if (inDlq.has(key)) {
        if (!backup) metrics.duplicates.inc({ source });
        return true;
      }
      try {
        const res = await capture(ctx, adv);
        inDlq.add(key);
        if (!res.stored) {
          metrics.duplicates.inc({ source });
          return true;
        }
        metrics.captured.inc({ source, kind: adv.kind });
        const what = (res.originalFound ? "stored" : "original gone; stored provenance only") +
          (res.fromMirror ? ` (payload from mirror ${res.fromMirror})` : "") +
          (backup ? " (from core NATS: the advisory stream did not store it)" : "");
        log.info(
          "dead message {stream} seq {seq} ({kind}, {deliveries} deliveries): {what} " +
            "as DLQ seq {dlqSeq}",
          { ...adv, what, dlqSeq: res.dlqSeq },
        );
        return true;
      } catch (err) {
        metrics.captureFailures.inc({ source });
        log.error("cannot capture dead message {stream} seq {seq}: {error}; retrying", {
          stream: adv.stream,
          seq: adv.seq,
          error: (err as Error).message,
        });
        return false;
      }
    },
    async index() {
      const entries = await listEntries(h.js, h.jsm, h.target, {}, { headersOnly: true });
      for (const e of entries) {
        if (e.provenance) inDlq.add(`${e.provenance.stream}:${e.provenance.seq}`);
      }
      log.info("DLQ {dlq} holds {n} entries", { dlq: h.target.stream, n: entries.length });
    },
  };
}
