/**
 * Config schema of `roles.dlq_redriver`.
 * @module
 */
import { z } from "zod";
import { duration } from "../../config/units.ts";

/** `roles.dlq_redriver`. */
export const dlqRedriverSchema = z.strictObject({
  enabled: z.boolean().default(true),
  dlq_stream: z.string().default("DLQ"),
  subject_prefix: z.string().default("dlq"),
  max_age: duration().default(30 * 86_400_000),
  replicas: z.number().int().min(1).max(5).default(1),
  sources: z.array(z.strictObject({ stream: z.string(), consumer: z.string() })).default([]),
  redrive: z.strictObject({
    auto: z.boolean().default(false),
    delay: duration().default(600_000),
    max_redrives: z.number().int().min(0).default(3),
    rate: z.number().positive().default(100),
  }).prefault({}),
});

/** A parsed `roles.dlq_redriver` section. */
export type DlqRedriverConfig = z.output<typeof dlqRedriverSchema>;
