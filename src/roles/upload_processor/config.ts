/**
 * Config schema of `roles.upload_processor`.
 * @module
 */
import { z } from "zod";
import { duration } from "../../config/units.ts";

const execHandler = z.strictObject({
  /** argv; `{file}`, `{event_id}`, ... are replaced when they are a whole argument. */
  exec: z.array(z.string()).min(1),
  timeout: duration().default(300_000),
  /** Exit codes that mean "try again later"; every other non-zero code is permanent. */
  retry_exit_codes: z.array(z.number().int()).default([75]),
  env: z.record(z.string(), z.string()).default({}),
});

const httpHandler = z.strictObject({
  http: z.strictObject({
    url: z.url(),
    headers: z.record(z.string(), z.string()).default({}),
    /** `file`: the file's bytes are the body (event JSON in a header); `path`: the event JSON
     * with `path` added is the body. */
    send: z.enum(["file", "path"]).default("file"),
  }),
  timeout: duration().default(300_000),
});

/** The handler that processes a downloaded file: a command or an HTTP endpoint. */
export type HandlerConfig = z.output<typeof execHandler> | z.output<typeof httpHandler>;

/** `roles.upload_processor`. */
export const uploadProcessorSchema = z.strictObject({
  enabled: z.boolean().default(true),
  stream: z.string().default("FILE_UPLOADS"),
  consumer: z.string().default("file_processor"),
  /** Filter subject used when jetport creates the consumer itself. */
  subject: z.string().default("file.uploads"),
  concurrency: z.number().int().min(1).max(1024).default(4),
  /** How long one pull request waits for messages (the upload service's consumers use 5 s). */
  fetch_wait: duration().default(5000),
  s3: z.strictObject({
    /** Defaults to `$AWS_ENDPOINT_URL_S3`, `$AWS_ENDPOINT_URL`, then AWS's regional endpoint. */
    endpoint: z.url().optional(),
    /** Defaults to `$AWS_REGION`, `$AWS_DEFAULT_REGION`, then `auto`. */
    region: z.string().optional(),
    /** Default to `$AWS_ACCESS_KEY_ID` / `$AWS_SECRET_ACCESS_KEY` / `$AWS_SESSION_TOKEN`. */
    access_key_id: z.string().optional(),
    secret_access_key: z.string().optional(),
    session_token: z.string().optional(),
    force_path_style: z.boolean().default(true),
  }).prefault({}),
  download_dir: z.string().default("./data/uploads"),
  keep_files: z.boolean().default(false),
  decrypt: z.strictObject({
    /** A file holding the 32-byte master key, raw or base64. */
    master_key_file: z.string().optional(),
    /** The name of an environment variable holding the master key in base64. */
    master_key_env: z.string().optional(),
  }).refine((d) => (d.master_key_file === undefined) !== (d.master_key_env === undefined), {
    message: "set exactly one of master_key_file or master_key_env",
  }).optional(),
  /** Absent: download only; the kept file is the output (needs `keep_files: true`). */
  handler: z.union([execHandler, httpHandler]).optional(),
  retry: z.strictObject({
    backoff: z.array(duration()).min(1).default([1000, 5000, 30_000, 120_000]),
    /** Deliveries after which a retryable failure is dead-lettered; -1 retries for ever. */
    max_deliveries: z.number().int().min(-1).refine((n) => n !== 0, {
      message: "must be at least 1, or -1 for no limit",
    }).default(10),
  }).prefault({}),
  /** Stop pulling while S3 or the http handler is down (see `breaker.ts`). */
  circuit_breaker: z.strictObject({
    /** Consecutive outage failures of different events that open it; 0 turns it off. */
    failures: z.number().int().min(0).default(3),
    /** Waits between probes while open; the last one repeats. */
    probe_backoff: z.array(duration()).min(1).default([1000, 2000, 5000, 10_000, 30_000]),
    /** Also pause the consumer (nats-server 2.11+) so other processes stop pulling too. */
    pause_consumer: z.boolean().default(true),
  }).prefault({}),
  dedupe_bucket: z.string().default("jetport_processed"),
  dedupe_ttl: duration().default(7 * 86_400_000),
  publish_result: z.string().optional(),
}).superRefine((up, ctx) => {
  if (!up.handler && !up.keep_files) {
    ctx.addIssue({
      code: "custom",
      path: ["handler"],
      message: "required unless keep_files is true (without a handler the kept file is the " +
        "output, named in the result event's output_path)",
    });
  }
});

/** A parsed `roles.upload_processor` section. */
export type UploadProcessorConfig = z.output<typeof uploadProcessorSchema>;
