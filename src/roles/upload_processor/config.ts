/**
 * Config schema of `roles.upload_processor`.
 * @module
 */
import { z } from "zod";
import { duration } from "../../config/units.ts";

const execHandler = z.strictObject({
  exec: z.array(z.string()).min(1),
  timeout: duration().default(300_000),
  retry_exit_codes: z.array(z.number().int()).default([75]),
  env: z.record(z.string(), z.string()).default({}),
});

const httpHandler = z.strictObject({
  http: z.strictObject({
    url: z.url(),
    headers: z.record(z.string(), z.string()).default({}),
    send: z.enum(["file", "path"]).default("file"),
  }),
  timeout: duration().default(300_000),
});

/** `roles.upload_processor`. */
export const uploadProcessorSchema = z.strictObject({
  enabled: z.boolean().default(true),
  stream: z.string().default("FILE_UPLOADS"),
  consumer: z.string().default("file_processor"),
  concurrency: z.number().int().min(1).max(1024).default(4),
  s3: z.strictObject({
    endpoint: z.url(),
    region: z.string().default("auto"),
    access_key_id: z.string().optional(),
    secret_access_key: z.string().optional(),
    force_path_style: z.boolean().default(true),
  }),
  download_dir: z.string().default("./data/uploads"),
  keep_files: z.boolean().default(false),
  decrypt: z.strictObject({
    master_key_file: z.string().optional(),
    master_key_env: z.string().optional(),
  }).optional(),
  handler: z.union([execHandler, httpHandler]),
  retry: z.strictObject({
    backoff: z.array(duration()).default([1000, 5000, 30_000, 120_000]),
  }).prefault({}),
  dedupe_bucket: z.string().default("jetport_processed"),
  dedupe_ttl: duration().default(7 * 86_400_000),
  publish_result: z.string().optional(),
});

/** A parsed `roles.upload_processor` section. */
export type UploadProcessorConfig = z.output<typeof uploadProcessorSchema>;
