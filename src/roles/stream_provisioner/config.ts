/**
 * Config schema of `roles.stream_provisioner`: streams, consumers and KV buckets to declare.
 * @module
 */
import { z } from "zod";
import { duration, size } from "../../config/units.ts";
import { stringList } from "../../config/common.ts";

/** Replica count: NATS keeps 1 to 5 copies of a stream, each on its own server. */
const replicas = () =>
  z.number().int().min(1, "replicas must be at least 1").max(
    5,
    "replicas must be at most 5: NATS keeps at most 5 copies of a stream (3 is the usual choice)",
  );

const placementSchema = z.strictObject({
  cluster: z.string().optional(),
  tags: z.array(z.string()).optional(),
});

/** A declared stream. */
export const streamSchema = z.strictObject({
  name: z.string().regex(/^[^.*>\s]+$/, "stream names cannot contain '.', '*', '>' or spaces"),
  subjects: stringList(),
  description: z.string().optional(),
  retention: z.enum(["limits", "interest", "workqueue"]).default("limits"),
  storage: z.enum(["file", "memory"]).default("file"),
  max_age: duration().default(0),
  max_msgs: z.number().int().min(-1).default(-1),
  max_bytes: z.union([z.literal(-1), size()]).default(-1),
  max_msg_size: z.union([z.literal(-1), size()]).default(-1),
  max_msgs_per_subject: z.number().int().min(-1).default(-1),
  max_consumers: z.number().int().min(-1).default(-1),
  discard: z.enum(["old", "new"]).default("old"),
  duplicate_window: duration().default(120_000),
  replicas: replicas().default(1),
  placement: placementSchema.optional(),
  allow_direct: z.boolean().default(true),
  allow_rollup_hdrs: z.boolean().default(false),
  deny_delete: z.boolean().default(false),
  deny_purge: z.boolean().default(false),
  compression: z.enum(["none", "s2"]).optional(),
  metadata: z.record(z.string(), z.string()).optional(),
});

/** A declared consumer. */
const consumerSchema = z.strictObject({
  stream: z.string(),
  name: z.string().regex(/^[^.*>\s]+$/, "consumer names cannot contain '.', '*', '>' or spaces"),
  description: z.string().optional(),
  filter_subject: z.string().optional(),
  filter_subjects: z.array(z.string()).min(1).optional(),
  ack_policy: z.enum(["explicit", "all", "none"]).default("explicit"),
  deliver_policy: z.enum([
    "all",
    "last",
    "new",
    "by_start_sequence",
    "by_start_time",
    "last_per_subject",
  ]).default("all"),
  opt_start_seq: z.number().int().positive().optional(),
  opt_start_time: z.string().datetime({ offset: true }).optional(),
  replay_policy: z.enum(["instant", "original"]).default("instant"),
  max_deliver: z.number().int().min(-1).default(-1),
  ack_wait: duration().default(30_000),
  max_ack_pending: z.number().int().min(-1).default(1000),
  max_waiting: z.number().int().positive().optional(),
  backoff: z.array(duration()).optional(),
  deliver_subject: z.string().optional(),
  deliver_group: z.string().optional(),
  idle_heartbeat: duration().optional(),
  flow_control: z.boolean().optional(),
  headers_only: z.boolean().optional(),
  inactive_threshold: duration().optional(),
  /** 0 (the server's default) means as many as the stream has. */
  replicas: z.number().int().min(0).max(
    5,
    "replicas must be at most 5 (0 means: as many as the stream)",
  ).optional(),
  metadata: z.record(z.string(), z.string()).optional(),
}).superRefine((c, ctx) => {
  if (c.filter_subject && c.filter_subjects) {
    ctx.addIssue({
      code: "custom",
      path: ["filter_subjects"],
      message: "use filter_subject or filter_subjects, not both",
    });
  }
  if (c.deliver_policy === "by_start_sequence" && c.opt_start_seq === undefined) {
    ctx.addIssue({
      code: "custom",
      path: ["opt_start_seq"],
      message: "deliver_policy by_start_sequence needs opt_start_seq",
    });
  }
  if (c.deliver_policy === "by_start_time" && c.opt_start_time === undefined) {
    ctx.addIssue({
      code: "custom",
      path: ["opt_start_time"],
      message: "deliver_policy by_start_time needs opt_start_time (ISO-8601)",
    });
  }
  if (c.deliver_group && !c.deliver_subject) {
    ctx.addIssue({
      code: "custom",
      path: ["deliver_group"],
      message: "deliver_group is for push consumers: set deliver_subject too",
    });
  }
  if (c.backoff && c.max_deliver !== -1 && c.backoff.length > c.max_deliver) {
    ctx.addIssue({
      code: "custom",
      path: ["backoff"],
      message: `backoff has ${c.backoff.length} steps but max_deliver is ${c.max_deliver}; ` +
        "the server rejects a backoff longer than max_deliver",
    });
  }
});

/** A declared KV bucket. */
const kvSchema = z.strictObject({
  bucket: z.string().regex(/^[a-zA-Z0-9_-]+$/, "bucket names may use letters, digits, _ and -"),
  description: z.string().optional(),
  ttl: duration().default(0),
  history: z.number().int().min(1).max(64).default(1),
  storage: z.enum(["file", "memory"]).default("file"),
  replicas: replicas().default(1),
  max_bytes: z.union([z.literal(-1), size()]).default(-1),
  max_value_size: z.union([z.literal(-1), size()]).default(-1),
  placement: placementSchema.optional(),
});

/** `roles.stream_provisioner`. */
export const provisionerSchema = z.strictObject({
  enabled: z.boolean().default(true),
  on_start: z.enum(["apply", "verify", "plan", "none"]).default("apply"),
  allow_destructive: z.boolean().default(false),
  streams: z.array(streamSchema).default([]),
  consumers: z.array(consumerSchema).default([]),
  kv: z.array(kvSchema).default([]),
});

/** A parsed stream declaration. */
export type StreamDecl = z.output<typeof streamSchema>;
/** A parsed consumer declaration. */
export type ConsumerDecl = z.output<typeof consumerSchema>;
/** A parsed KV bucket declaration. */
export type KvDecl = z.output<typeof kvSchema>;
/** A parsed `roles.stream_provisioner` section. */
export type ProvisionerConfig = z.output<typeof provisionerSchema>;
