/**
 * Config schema of `roles.monitor`.
 * @module
 */
import { z } from "zod";
import { size } from "../../config/units.ts";

/** `roles.monitor`. */
export const monitorSchema = z.strictObject({
  enabled: z.boolean().default(true),
  stream: z.string().default("FILES"),
  consumer: z.string().default("file-monitor"),
  filter_subject: z.string().optional(),
  output: z.strictObject({
    path: z.string().default("./test/monitor/storage_monitor.log"),
    format: z.enum(["text", "json"]).default("text"),
    /** Sync each flushed batch to the disk before acking (survives an OS crash too). */
    fsync: z.boolean().default(true),
    rotate: z.strictObject({
      max_size: size().default(100 * 1024 * 1024),
      keep: z.number().int().min(1).default(5),
    }).prefault({}),
  }).prefault({}),
  /** Most messages written, flushed and acked together (and pulled per request). */
  batch: z.number().int().min(1).max(10_000).default(500),
});

/** A parsed `roles.monitor` section. */
export type MonitorConfig = z.output<typeof monitorSchema>;
