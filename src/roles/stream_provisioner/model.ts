/**
 * The two directions between declarations and the server: the request a declaration becomes, and
 * a normal form (declaration units: milliseconds, bytes, sorted lists) that both the declaration
 * and the server's config map to, so they can be compared field by field.
 * @module
 */
import type {
  ConsumerConfig,
  Placement,
  StreamConfig,
  StreamSource,
  StreamUpdateConfig,
  SubjectTransformConfig,
} from "@nats-io/jetstream";
import type { ConsumerDecl, KvDecl, ObjectStoreDecl, SourceDecl, StreamDecl } from "./config.ts";

/**
 * A normalized config: field → comparable value; `undefined` means "not managed, don't compare".
 */
export type Normal = Record<string, unknown>;

const NS_PER_MS = 1_000_000;
const ns = (ms: number) => Math.round(ms * NS_PER_MS);
const ms = (nanos: number | undefined) => (nanos ?? 0) / NS_PER_MS;

/** The prefix of the stream that backs a KV bucket. */
export const KV_PREFIX = "KV_";

/** The prefix of the stream that backs an Object Store bucket. */
export const OBJ_PREFIX = "OBJ_";

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
    // Declared or not managed: a stream that leaves these out keeps what the server has.
    mirror: d.mirror && normalSource(sourceRequest(d.mirror)),
    sources: d.sources && normalSources(d.sources.map(sourceRequest)),
    republish: d.republish && normalRepublish(d.republish),
    subject_transform: d.subject_transform && normalTransform(d.subject_transform),
    allow_msg_ttl: d.allow_msg_ttl,
    subject_delete_marker_ttl: d.subject_delete_marker_ttl,
    allow_msg_counter: d.allow_msg_counter,
    allow_atomic: d.allow_atomic,
    allow_msg_schedules: d.allow_msg_schedules,
    allow_batched: d.allow_batched,
  };
}

function normalPlacement(p: { cluster?: string; tags?: string[] }) {
  return { cluster: p.cluster ?? "", tags: [...(p.tags ?? [])].sort() };
}

/**
 * The placement a declaration asks for, with only the keys it declares. The server compares
 * placements with Go's `reflect.DeepEqual`, where an empty tag list differs from none, and treats
 * a different placement as a move (refused together with a replica change): sending `tags: []`
 * for a stream that has none would turn every update into a move. nats.js's type wants both keys
 * although the server's are optional, hence the cast.
 */
function placement(p: { cluster?: string; tags?: string[] } | undefined): Placement | undefined {
  if (!p) return undefined;
  return {
    ...(p.cluster ? { cluster: p.cluster } : {}),
    ...(p.tags?.length ? { tags: p.tags } : {}),
  } as Placement;
}

/** A declared mirror or source as the server's `StreamSource`. */
export function sourceRequest(d: SourceDecl): StreamSource {
  return {
    name: d.name,
    opt_start_seq: d.opt_start_seq,
    opt_start_time: d.opt_start_time,
    filter_subject: d.filter_subject,
    subject_transforms: d.subject_transforms,
    external: d.external ?? (d.domain ? { api: `$JS.${d.domain}.API` } : undefined),
  };
}

function normalTransform(t: SubjectTransformConfig) {
  return { src: t.src ?? "", dest: t.dest };
}

/** A mirror or source (declared or the server's) in normal form. */
function normalSource(s: StreamSource) {
  return {
    name: s.name,
    opt_start_seq: s.opt_start_seq ?? 0,
    opt_start_time: s.opt_start_time ? new Date(s.opt_start_time).toISOString() : "",
    filter_subject: s.filter_subject ?? "",
    subject_transforms: (s.subject_transforms ?? []).map(normalTransform),
    external: s.external ? { api: s.external.api, deliver: s.external.deliver ?? "" } : "",
  };
}

function normalSources(list: StreamSource[]) {
  return list.map(normalSource).sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}

function normalRepublish(r: { src: string; dest: string; headers_only?: boolean }) {
  return { src: r.src, dest: r.dest, headers_only: r.headers_only ?? false };
}

/** A server's stream config in normal form. */
export function normalStreamConfig(c: Partial<StreamConfig>): Normal {
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
    mirror: c.mirror ? normalSource(c.mirror) : "",
    sources: normalSources(c.sources ?? []),
    republish: c.republish ? normalRepublish(c.republish) : "",
    subject_transform: c.subject_transform ? normalTransform(c.subject_transform) : "",
    // Servers before 2.11/2.12/2.14 have none of these: off.
    allow_msg_ttl: c.allow_msg_ttl ?? false,
    subject_delete_marker_ttl: ms(c.subject_delete_marker_ttl),
    allow_msg_counter: c.allow_msg_counter ?? false,
    allow_atomic: c.allow_atomic ?? false,
    allow_msg_schedules: c.allow_msg_schedules ?? false,
    allow_batched: c.allow_batched ?? false,
  };
}

/** A stream request: the config a declaration asks the server for (unset fields left out). */
export type StreamRequest = Partial<StreamConfig> & { name: string };

/** The stream config a declaration asks the server for. */
export function streamRequest(d: StreamDecl): StreamRequest {
  return {
    name: d.name,
    // A mirror has no subjects; a stream with only sources may have none.
    subjects: d.subjects.length > 0 || !(d.mirror || d.sources) ? d.subjects : undefined,
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
    placement: placement(d.placement),
    allow_direct: d.allow_direct,
    allow_rollup_hdrs: d.allow_rollup_hdrs,
    deny_delete: d.deny_delete,
    deny_purge: d.deny_purge,
    compression: d.compression,
    // Only sent when declared: a 2.9 server would drop it anyway (features.ts refuses that).
    metadata: d.metadata && Object.keys(d.metadata).length > 0 ? d.metadata : undefined,
    mirror: d.mirror && sourceRequest(d.mirror),
    sources: d.sources?.map(sourceRequest),
    republish: d.republish,
    subject_transform: d.subject_transform,
    allow_msg_ttl: d.allow_msg_ttl,
    subject_delete_marker_ttl: d.subject_delete_marker_ttl === undefined
      ? undefined
      : ns(d.subject_delete_marker_ttl),
    allow_msg_counter: d.allow_msg_counter,
    allow_atomic: d.allow_atomic,
    allow_msg_schedules: d.allow_msg_schedules,
    allow_batched: d.allow_batched,
  };
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
    priority_groups: d.priority_groups,
    priority_policy: d.priority_policy,
    priority_timeout: d.priority_timeout,
    pause_until: d.pause_until && new Date(d.pause_until).toISOString(),
  };
}

/** A server's consumer config in normal form. */
export function normalConsumerConfig(c: Partial<ConsumerConfig>): Normal {
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
    priority_groups: c.priority_groups ?? [],
    priority_policy: c.priority_policy ?? "none",
    priority_timeout: ms(c.priority_timeout),
    pause_until: c.pause_until ? new Date(c.pause_until).toISOString() : "",
  };
}

/** The consumer config a declaration asks the server for. */
export function consumerRequest(d: ConsumerDecl): Partial<ConsumerConfig> {
  const list = filters(d);
  return {
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
    priority_groups: d.priority_groups,
    priority_policy: d.priority_policy,
    priority_timeout: d.priority_timeout === undefined ? undefined : ns(d.priority_timeout),
    pause_until: d.pause_until,
  };
}

/** What KV and Object Store buckets share, declared: the stream behind them. */
interface BucketDecl {
  description?: string;
  ttl: number;
  storage: string;
  replicas: number;
  max_bytes: number;
  placement?: { cluster?: string; tags?: string[] };
}

/** The shared fields of a bucket declaration in normal form. */
function normalBucketDecl(d: BucketDecl): Normal {
  return {
    description: d.description ?? "",
    ttl: d.ttl,
    storage: d.storage,
    replicas: d.replicas,
    max_bytes: d.max_bytes,
    placement: d.placement && normalPlacement(d.placement),
  };
}

/** The shared fields of a bucket's stream config, in the bucket declaration's normal form. */
function normalBucketConfig(s: Normal): Normal {
  return {
    description: s.description,
    ttl: s.max_age,
    storage: s.storage,
    replicas: s.replicas,
    max_bytes: s.max_bytes,
    placement: s.placement,
  };
}

/** A KV declaration in normal form. */
export function normalKvDecl(d: KvDecl): Normal {
  return { ...normalBucketDecl(d), history: d.history, max_value_size: d.max_value_size };
}

/** The config of the stream behind a KV bucket, in the KV declaration's normal form. */
export function normalKvConfig(c: Partial<StreamConfig>): Normal {
  const s = normalStreamConfig(c);
  return {
    ...normalBucketConfig(s),
    history: s.max_msgs_per_subject,
    max_value_size: s.max_msg_size,
  };
}

/** The changes to a KV bucket's stream config that bring it to the declaration. */
export function kvStreamUpdate(d: KvDecl): Partial<StreamUpdateConfig> {
  return {
    description: d.description,
    max_age: ns(d.ttl),
    max_msgs_per_subject: d.history,
    num_replicas: d.replicas,
    max_bytes: d.max_bytes,
    max_msg_size: d.max_value_size,
    placement: placement(d.placement),
  };
}

/**
 * The stream behind an Object Store bucket, as the Object Store layout defines it: chunk and
 * meta subjects under `$O.<bucket>`, rollup (each object's meta is replaced), discard new (a
 * full bucket refuses a put rather than dropping chunks of stored objects), direct get.
 */
export function objectStoreRequest(d: ObjectStoreDecl): StreamRequest {
  return {
    name: OBJ_PREFIX + d.bucket,
    subjects: [`$O.${d.bucket}.C.>`, `$O.${d.bucket}.M.>`],
    description: d.description,
    max_age: ns(d.ttl),
    max_bytes: d.max_bytes,
    storage: d.storage,
    num_replicas: d.replicas,
    placement: placement(d.placement),
    discard: "new",
    allow_rollup_hdrs: true,
    allow_direct: true,
    // Only sent when asked for: 2.9 has no compression field (features.ts refuses s2 there).
    compression: d.compression ? "s2" : undefined,
    metadata: d.metadata && Object.keys(d.metadata).length > 0 ? d.metadata : undefined,
  };
}

/** An Object Store declaration in normal form. */
export function normalObjectStoreDecl(d: ObjectStoreDecl): Normal {
  return {
    ...normalBucketDecl(d),
    compression: d.compression,
    metadata: userMetadata(d.metadata),
  };
}

/** The config of the stream behind an Object Store bucket, in the declaration's normal form. */
export function normalObjectStoreConfig(c: Partial<StreamConfig>): Normal {
  const s = normalStreamConfig(c);
  return { ...normalBucketConfig(s), compression: s.compression === "s2", metadata: s.metadata };
}
