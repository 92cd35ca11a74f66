/**
 * The two directions between declarations and the server: the request a declaration becomes, and
 * a normal form (declaration units: milliseconds, bytes, sorted lists) that both the declaration
 * and the server's config map to, so they can be compared field by field.
 * @module
 */
import type { ConsumerConfig, StreamConfig } from "@nats-io/jetstream";
import type { ConsumerDecl, KvDecl, StreamDecl } from "./config.ts";

/** A normalized config: field → comparable value; `undefined` means "not managed, don't compare". */
export type Normal = Record<string, unknown>;

const NS_PER_MS = 1_000_000;
const ns = (ms: number) => Math.round(ms * NS_PER_MS);
const ms = (nanos: number | undefined) => (nanos ?? 0) / NS_PER_MS;

/** The prefix of the stream that backs a KV bucket. */
export const KV_PREFIX = "KV_";

/** Metadata keys the server adds itself (2.11+: `_nats.*`); never ours to compare. */
function userMetadata(m: Record<string, string> | undefined): Record<string, string> {
  return Object.fromEntries(
    Object.entries(m ?? {}).filter(([k]) => !k.startsWith("_nats.")).sort(([a], [b]) =>
      a < b ? -1 : 1
    ),
  );
}

/**
 * The duplicate window the server ends up with: it may not exceed `max_age`, and a declaration
 * that leaves it at the default would otherwise be rejected for short-lived streams.
 */
function duplicateWindow(d: StreamDecl): number {
  return d.max_age > 0 && d.duplicate_window > d.max_age ? d.max_age : d.duplicate_window;
}

/** A stream declaration in normal form. */
export function normalStreamDecl(d: StreamDecl): Normal {
  return {
    subjects: [...d.subjects].sort(),
    description: d.description ?? "",
    retention: d.retention,
    storage: d.storage,
    max_age: d.max_age,
    max_msgs: d.max_msgs,
    max_bytes: d.max_bytes,
    max_msg_size: d.max_msg_size,
    max_msgs_per_subject: d.max_msgs_per_subject,
    max_consumers: d.max_consumers,
    discard: d.discard,
    duplicate_window: duplicateWindow(d),
    replicas: d.replicas,
    placement: d.placement && normalPlacement(d.placement),
    allow_direct: d.allow_direct,
    allow_rollup_hdrs: d.allow_rollup_hdrs,
    deny_delete: d.deny_delete,
    deny_purge: d.deny_purge,
    compression: d.compression,
    metadata: userMetadata(d.metadata),
  };
}

function normalPlacement(p: { cluster?: string; tags?: string[] }) {
  return { cluster: p.cluster ?? "", tags: [...(p.tags ?? [])].sort() };
}

/** A server's stream config in normal form. */
export function normalStreamConfig(c: StreamConfig): Normal {
  return {
    subjects: [...(c.subjects ?? [])].sort(),
    description: c.description ?? "",
    retention: c.retention,
    storage: c.storage,
    max_age: ms(c.max_age),
    max_msgs: c.max_msgs,
    max_bytes: c.max_bytes,
    max_msg_size: c.max_msg_size ?? -1,
    max_msgs_per_subject: c.max_msgs_per_subject ?? -1,
    max_consumers: c.max_consumers,
    discard: c.discard ?? "old",
    duplicate_window: ms(c.duplicate_window),
    replicas: c.num_replicas,
    placement: c.placement ? normalPlacement(c.placement) : { cluster: "", tags: [] },
    allow_direct: c.allow_direct ?? false,
    allow_rollup_hdrs: c.allow_rollup_hdrs ?? false,
    deny_delete: c.deny_delete ?? false,
    deny_purge: c.deny_purge ?? false,
    // 2.9 has no compression field: its streams are uncompressed.
    compression: c.compression ?? "none",
    metadata: userMetadata(c.metadata),
  };
}

/** The stream config a declaration asks the server for. */
export function streamRequest(d: StreamDecl): StreamConfig {
  const cfg: Record<string, unknown> = {
    name: d.name,
    subjects: d.subjects,
    description: d.description,
    retention: d.retention,
    storage: d.storage,
    max_age: ns(d.max_age),
    max_msgs: d.max_msgs,
    max_bytes: d.max_bytes,
    max_msg_size: d.max_msg_size,
    max_msgs_per_subject: d.max_msgs_per_subject,
    max_consumers: d.max_consumers,
    discard: d.discard,
    duplicate_window: ns(duplicateWindow(d)),
    num_replicas: d.replicas,
    placement: d.placement,
    allow_direct: d.allow_direct,
    allow_rollup_hdrs: d.allow_rollup_hdrs,
    deny_delete: d.deny_delete,
    deny_purge: d.deny_purge,
    compression: d.compression,
    // Only sent when declared: a 2.9 server would drop it anyway (features.ts refuses that).
    metadata: d.metadata && Object.keys(d.metadata).length > 0 ? d.metadata : undefined,
  };
  return cfg as unknown as StreamConfig;
}

/** A consumer's filter subjects as one sorted list (either field, or none). */
function filters(d: { filter_subject?: string; filter_subjects?: string[] }): string[] {
  if (d.filter_subjects?.length) return [...d.filter_subjects].sort();
  return d.filter_subject ? [d.filter_subject] : [];
}

/** A consumer declaration in normal form. */
export function normalConsumerDecl(d: ConsumerDecl): Normal {
  const push = d.deliver_subject !== undefined;
  return {
    description: d.description ?? "",
    filter_subjects: filters(d),
    ack_policy: d.ack_policy,
    deliver_policy: d.deliver_policy,
    opt_start_seq: d.opt_start_seq,
    opt_start_time: d.opt_start_time && new Date(d.opt_start_time).toISOString(),
    replay_policy: d.replay_policy,
    max_deliver: d.max_deliver,
    // The server sets ack_wait to the first backoff step when there is a backoff list.
    ack_wait: d.ack_policy === "none" ? undefined : d.backoff?.length ? d.backoff[0] : d.ack_wait,
    // With ack none nothing is ever pending an ack: the server ignores the limit.
    max_ack_pending: d.ack_policy === "none" ? undefined : d.max_ack_pending,
    max_waiting: push ? undefined : d.max_waiting,
    backoff: d.backoff ?? [],
    deliver_subject: d.deliver_subject ?? "",
    deliver_group: d.deliver_group ?? "",
    idle_heartbeat: d.idle_heartbeat,
    flow_control: d.flow_control,
    headers_only: d.headers_only,
    inactive_threshold: d.inactive_threshold,
    replicas: d.replicas,
    metadata: userMetadata(d.metadata),
  };
}

/** A server's consumer config in normal form. */
export function normalConsumerConfig(c: ConsumerConfig): Normal {
  return {
    description: c.description ?? "",
    filter_subjects: filters(c),
    ack_policy: c.ack_policy,
    deliver_policy: c.deliver_policy,
    opt_start_seq: c.opt_start_seq,
    opt_start_time: c.opt_start_time && new Date(c.opt_start_time).toISOString(),
    replay_policy: c.replay_policy,
    max_deliver: c.max_deliver ?? -1,
    ack_wait: ms(c.ack_wait),
    max_ack_pending: c.max_ack_pending,
    max_waiting: c.max_waiting,
    backoff: (c.backoff ?? []).map(ms),
    deliver_subject: c.deliver_subject ?? "",
    deliver_group: c.deliver_group ?? "",
    idle_heartbeat: ms(c.idle_heartbeat),
    flow_control: c.flow_control ?? false,
    headers_only: c.headers_only ?? false,
    inactive_threshold: ms(c.inactive_threshold),
    replicas: c.num_replicas ?? 0,
    metadata: userMetadata(c.metadata),
  };
}

/** The consumer config a declaration asks the server for. */
export function consumerRequest(d: ConsumerDecl): ConsumerConfig {
  const list = filters(d);
  const cfg: Record<string, unknown> = {
    durable_name: d.name,
    description: d.description,
    // One filter goes as filter_subject, which every server version understands.
    filter_subject: list.length === 1 ? list[0] : undefined,
    filter_subjects: list.length > 1 ? list : undefined,
    ack_policy: d.ack_policy,
    deliver_policy: d.deliver_policy,
    opt_start_seq: d.opt_start_seq,
    opt_start_time: d.opt_start_time,
    replay_policy: d.replay_policy,
    max_deliver: d.max_deliver,
    ack_wait: d.ack_policy === "none" ? undefined : ns(d.ack_wait),
    max_ack_pending: d.ack_policy === "none" ? undefined : d.max_ack_pending,
    max_waiting: d.max_waiting,
    backoff: d.backoff?.map(ns),
    deliver_subject: d.deliver_subject,
    deliver_group: d.deliver_group,
    idle_heartbeat: d.idle_heartbeat === undefined ? undefined : ns(d.idle_heartbeat),
    flow_control: d.flow_control,
    headers_only: d.headers_only,
    inactive_threshold: d.inactive_threshold === undefined ? undefined : ns(d.inactive_threshold),
    num_replicas: d.replicas,
    metadata: d.metadata && Object.keys(d.metadata).length > 0 ? d.metadata : undefined,
  };
  return cfg as unknown as ConsumerConfig;
}

/** A KV declaration in normal form. */
export function normalKvDecl(d: KvDecl): Normal {
  return {
    description: d.description ?? "",
    ttl: d.ttl,
    history: d.history,
    storage: d.storage,
    replicas: d.replicas,
    max_bytes: d.max_bytes,
    max_value_size: d.max_value_size,
    placement: d.placement && normalPlacement(d.placement),
  };
}

/** The config of the stream behind a KV bucket, in the KV declaration's normal form. */
export function normalKvConfig(c: StreamConfig): Normal {
  const s = normalStreamConfig(c);
  return {
    description: s.description,
    ttl: s.max_age,
    history: s.max_msgs_per_subject,
    storage: s.storage,
    replicas: s.replicas,
    max_bytes: s.max_bytes,
    max_value_size: s.max_msg_size,
    placement: s.placement,
  };
}

/** The changes to a KV bucket's stream config that bring it to the declaration. */
export function kvStreamUpdate(d: KvDecl): Partial<StreamConfig> {
  const cfg: Record<string, unknown> = {
    description: d.description,
    max_age: ns(d.ttl),
    max_msgs_per_subject: d.history,
    num_replicas: d.replicas,
    max_bytes: d.max_bytes,
    max_msg_size: d.max_value_size,
    placement: d.placement,
  };
  return cfg as Partial<StreamConfig>;
}
