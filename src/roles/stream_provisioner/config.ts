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

const transformSchema = z.strictObject({ src: z.string().min(1), dest: z.string().min(1) });

/** Where a mirror or source reads from: a stream here, or in another JetStream domain/account. */
const sourceSchema = z.strictObject({
  name: z.string().min(1),
  opt_start_seq: z.number().int().positive().optional(),
  opt_start_time: z.string().datetime({ offset: true }).optional(),
  filter_subject: z.string().optional(),
  subject_transforms: z.array(transformSchema).min(1).optional(),
  /** The other domain's JetStream API prefix, e.g. `$JS.hub.API`. */
  external: z.strictObject({ api: z.string().min(1), deliver: z.string().optional() })
    .optional(),
  /** Shorthand for `external: { api: "$JS.<domain>.API" }`. */
  domain: z.string().min(1).optional(),
}).refine((s) => !(s.external && s.domain), {
  message: "use external or domain, not both",
  path: ["domain"],
}).refine((s) => !(s.filter_subject && s.subject_transforms), {
  message: "use filter_subject or subject_transforms, not both",
  path: ["subject_transforms"],
});

/** A declared stream. */
export const streamSchema = z.strictObject({
  name: z.string().regex(/^[^.*>\s]+$/, "stream names cannot contain '.', '*', '>' or spaces"),
  /** Required unless the stream is a mirror or has sources. */
  subjects: stringList().optional(),
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
  mirror: sourceSchema.optional(),
  sources: z.array(sourceSchema).min(1).optional(),
  republish: z.strictObject({
    src: z.string().min(1),
    dest: z.string().min(1),
    headers_only: z.boolean().optional(),
  }).optional(),
  subject_transform: transformSchema.optional(),
  allow_msg_ttl: z.boolean().optional(),
  subject_delete_marker_ttl: duration().optional(),
  allow_msg_counter: z.boolean().optional(),
  allow_atomic: z.boolean().optional(),
  allow_msg_schedules: z.boolean().optional(),
  allow_batched: z.boolean().optional(),
}).superRefine((s, ctx) => {
  if (s.mirror && (s.subjects?.length || s.sources)) {
    ctx.addIssue({
      code: "custom",
      path: ["mirror"],
      message: "a mirror has no subjects or sources of its own: remove them or the mirror",
    });
  }
  if (!s.mirror && !s.sources && !s.subjects?.length) {
    ctx.addIssue({
      code: "custom",
      path: ["subjects"],
      message: "subjects is required (unless the stream is a mirror or has sources)",
    });
  }
  if (s.subject_delete_marker_ttl !== undefined && s.subject_delete_marker_ttl < 1000) {
    ctx.addIssue({
      code: "custom",
      path: ["subject_delete_marker_ttl"],
      message: "subject_delete_marker_ttl must be at least 1s",
    });
  }
  if (s.subject_delete_marker_ttl && s.allow_msg_ttl === false) {
    ctx.addIssue({
      code: "custom",
      path: ["allow_msg_ttl"],
      message: "subject_delete_marker_ttl needs allow_msg_ttl: true",
    });
  }
}).transform((s) => ({ ...s, subjects: s.subjects ?? [] }));

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
  priority_groups: z.array(
    z.string().regex(
      /^[a-zA-Z0-9/_=-]{1,16}$/,
      "a priority group name is 1 to 16 of letters, digits and / _ = -",
    ),
  )
    .min(1).optional(),
  priority_policy: z.enum(["none", "overflow", "pinned_client", "prioritized"]).optional(),
  /** How long a pinned client keeps its pin without pulling (pinned_client only). */
  priority_timeout: duration().optional(),
  pause_until: z.string().datetime({ offset: true }).optional(),
}).superRefine((c, ctx) => {
  const prioritized = c.priority_policy !== undefined && c.priority_policy !== "none";
  if (prioritized !== (c.priority_groups !== undefined)) {
    ctx.addIssue({
      code: "custom",
      path: [prioritized ? "priority_groups" : "priority_policy"],
      message: "priority_groups and a priority_policy other than none go together",
    });
  }
  if (c.priority_timeout !== undefined && c.priority_policy !== "pinned_client") {
    ctx.addIssue({
      code: "custom",
      path: ["priority_timeout"],
      message: "priority_timeout is for priority_policy: pinned_client",
    });
  }
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

/** A declared Object Store bucket (the stream `OBJ_<bucket>` behind it). */
const objectStoreSchema = z.strictObject({
  bucket: z.string().regex(/^[a-zA-Z0-9_-]+$/, "bucket names may use letters, digits, _ and -"),
  description: z.string().optional(),
  ttl: duration().default(0),
  storage: z.enum(["file", "memory"]).default("file"),
  replicas: replicas().default(1),
  max_bytes: z.union([z.literal(-1), size()]).default(-1),
  placement: placementSchema.optional(),
  /** s2 compression of the stored chunks (nats-server 2.10+). */
  compression: z.boolean().default(false),
  metadata: z.record(z.string(), z.string()).optional(),
});

/** `roles.stream_provisioner`. */
export const provisionerSchema = z.strictObject({
  enabled: z.boolean().default(true),
  on_start: z.enum(["apply", "verify", "plan", "none"]).default("apply"),
  allow_destructive: z.boolean().default(false),
  /**
   * With `on_start: apply`: re-plan this often and apply drift the server can take in place, like
   * a controller (destructive drift is only reported). Off when absent.
   */
  reconcile_interval: duration().refine((ms) => ms >= 1000, "reconcile_interval must be 1s or more")
    .optional(),
  streams: z.array(streamSchema).default([]),
  consumers: z.array(consumerSchema).default([]),
  kv: z.array(kvSchema).default([]),
  object_stores: z.array(objectStoreSchema).default([]),
}).refine((p) => p.reconcile_interval === undefined || p.on_start === "apply", {
  message: "reconcile_interval needs on_start: apply",
  path: ["reconcile_interval"],
});

/** A parsed stream declaration. */
export type StreamDecl = z.output<typeof streamSchema>;
/** A parsed mirror or source of a stream. */
export type SourceDecl = z.output<typeof sourceSchema>;
/** A parsed consumer declaration. */
export type ConsumerDecl = z.output<typeof consumerSchema>;
/** A parsed KV bucket declaration. */
export type KvDecl = z.output<typeof kvSchema>;
/** A parsed Object Store bucket declaration. */
export type ObjectStoreDecl = z.output<typeof objectStoreSchema>;
/** A parsed `roles.stream_provisioner` section. */
export type ProvisionerConfig = z.output<typeof provisionerSchema>;
