/**
 * Config schema of `roles.dlq_redriver`.
 * @module
 */
import { z } from "zod";
import { duration, size } from "../../config/units.ts";

/**
 * How a source's payloads are kept for capture. `mirror`: a bounded mirror of the source stream
 * holds every message for `capture_window`, so a message its consumer terminates (which
 * workqueue and interest retention delete at once) can still be copied; `off`: no copy (such
 * entries are provenance-only). Unset: `mirror` for workqueue and interest streams.
 */
export const keepPayloadSchema = z.enum(["mirror", "off"]);

/** One source whose dead messages are captured: a stream and one of its consumers. */
export const dlqSourceSchema = z.strictObject({
  stream: z.string(),
  consumer: z.string(),
  keep_payload: keepPayloadSchema.optional(),
});

/** `roles.dlq_redriver`. */
export const dlqRedriverSchema = z.strictObject({
  enabled: z.boolean().default(true),
  dlq_stream: z.string().default("DLQ"),
  subject_prefix: z.string().default("dlq"),
  max_age: duration().default(30 * 86_400_000),
  replicas: z.number().int().min(1).max(5).default(1),
  /** A repeated capture of the same (stream, seq) within this window is stored once. */
  duplicate_window: duration().default(3_600_000),
  /**
   * A workqueue stream that keeps the sources' advisories while jetport is down, so capture
   * resumes where it stopped. Default `<dlq_stream>_ADVISORIES`; `null` listens on core NATS
   * only (advisories sent while jetport is down are then lost).
   */
  advisory_stream: z.string().nullable().optional(),
  sources: z.array(dlqSourceSchema).default([]),
  /** How long a payload mirror keeps each message: the longest a capture may lag. */
  capture_window: duration().default(3_600_000),
  /** Size bound of each payload mirror (oldest messages go first). */
  capture_max_bytes: size().default(1024 ** 3),
  redrive: z.strictObject({
    auto: z.boolean().default(false),
    delay: duration().default(600_000),
    max_redrives: z.number().int().min(0).default(3),
    rate: z.number().positive().default(100),
  }).prefault({}),
});

/** A parsed `roles.dlq_redriver` section. */
export type DlqRedriverConfig = z.output<typeof dlqRedriverSchema>;

/** A parsed source. */
export type DlqSource = z.output<typeof dlqSourceSchema>;

/** The advisory stream's name: configured, derived from the DLQ stream, or null (off). */
export function advisoryStreamName(cfg: DlqRedriverConfig): string | null {
  if (cfg.advisory_stream === null) return null;
  return cfg.advisory_stream ?? `${cfg.dlq_stream}_ADVISORIES`;
}

/** The name of the mirror that keeps `stream`'s payloads for capture. */
export function keepStreamName(cfg: DlqRedriverConfig, stream: string): string {
  return `${cfg.dlq_stream}_KEEP_${stream}`;
}
