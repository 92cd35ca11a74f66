/**
 * `provision export`: what exists on the server, written back as jetport declarations (the
 * shape of `roles.stream_provisioner`), so an operator with an existing deployment adopts it
 * without writing YAML by hand. Each field equal to the declaration's default is left out, and
 * each value is one the schema reads back to the same normal form, so `plan` on the exported
 * file reports no change (the round trip is tested on the example configs).
 * @module
 */
import type {
  ConsumerConfig,
  ConsumerInfo,
  JetStreamManager,
  StreamConfig,
  StreamInfo,
  StreamSource,
} from "@nats-io/jetstream";
import { formatDuration } from "../../config/units.ts";
import { KV_PREFIX, OBJ_PREFIX } from "./model.ts";
import { collect } from "./plan.ts";

/** Declarations as plain data, ready for YAML. */
type Decl = Record<string, unknown>;

const NS_PER_MS = 1_000_000;

/** Nanoseconds as a duration the schema reads back exactly (`7d`, `1h30m`), or undefined for 0. */
function duration(nanos: number | undefined): string | number | undefined {
  if (!nanos) return undefined;
  const ms = nanos / NS_PER_MS;
  return Number.isInteger(ms) ? formatDuration(ms) : ms;
}

/** A byte count in the largest binary unit that is exact (`10GiB`), else the number. */
function size(bytes: number | undefined): string | number | undefined {
  if (bytes === undefined || bytes === -1) return undefined;
  for (const [unit, n] of [["GiB", 1024 ** 3], ["MiB", 1024 ** 2], ["KiB", 1024]] as const) {
    if (bytes >= n && bytes % n === 0) return `${bytes / n}${unit}`;
  }
  return bytes;
}

/** `value` unless it equals the default `def` (or is absent). */
function unless<T>(value: T | undefined, def: T): T | undefined {
  return value === undefined || value === def ? undefined : value;
}

/** Only the keys with a value, in their order. */
function compact(o: Decl): Decl {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

/** Metadata the user wrote (servers 2.11+ add `_nats.*` keys of their own). */
function userMetadata(m: Record<string, string> | undefined): Record<string, string> | undefined {
  const own = Object.entries(m ?? {}).filter(([k]) => !k.startsWith("_nats."));
  return own.length > 0 ? Object.fromEntries(own) : undefined;
}

function placement(p: { cluster?: string; tags?: string[] } | undefined): Decl | undefined {
  if (!p || (!p.cluster && !p.tags?.length)) return undefined;
  return compact({ cluster: p.cluster || undefined, tags: p.tags?.length ? p.tags : undefined });
}

function source(s: StreamSource): Decl {
  return compact({
    name: s.name,
    opt_start_seq: s.opt_start_seq || undefined,
    opt_start_time: s.opt_start_time,
    filter_subject: s.filter_subject || undefined,
    subject_transforms: s.subject_transforms?.length
      ? s.subject_transforms.map((t) => ({ src: t.src ?? "", dest: t.dest }))
      : undefined,
    external: s.external?.api
      ? compact({ api: s.external.api, deliver: s.external.deliver || undefined })
      : undefined,
  });
}

/** A stream's config as a declaration. */
export function streamDecl(c: StreamConfig): Decl {
  const maxAge = c.max_age ?? 0;
  // The declaration's default duplicate window (2m) is clamped to max_age by the server.
  const defaultWindow = maxAge > 0 ? Math.min(120_000 * NS_PER_MS, maxAge) : 120_000 * NS_PER_MS;
  return compact({
    name: c.name,
    subjects: c.subjects?.length ? c.subjects : undefined,
    description: c.description || undefined,
    retention: unless(c.retention, "limits"),
    storage: unless(c.storage, "file"),
    max_age: duration(maxAge),
    max_msgs: unless(c.max_msgs, -1),
    max_bytes: size(c.max_bytes),
    max_msg_size: size(c.max_msg_size),
    max_msgs_per_subject: unless(c.max_msgs_per_subject, -1),
    max_consumers: unless(c.max_consumers, -1),
    discard: unless(c.discard, "old"),
    duplicate_window: c.duplicate_window === defaultWindow
      ? undefined
      : duration(c.duplicate_window) ?? 0,
    replicas: unless(c.num_replicas, 1),
    placement: placement(c.placement),
    allow_direct: unless(c.allow_direct ?? false, true),
    allow_rollup_hdrs: unless(c.allow_rollup_hdrs, false),
    deny_delete: unless(c.deny_delete, false),
    deny_purge: unless(c.deny_purge, false),
    compression: unless(c.compression, "none"),
    metadata: userMetadata(c.metadata),
    mirror: c.mirror ? source(c.mirror) : undefined,
    sources: c.sources?.length ? c.sources.map(source) : undefined,
    republish: c.republish
      ? compact({ ...c.republish, headers_only: c.republish.headers_only || undefined })
      : undefined,
    subject_transform: c.subject_transform
      ? { src: c.subject_transform.src ?? "", dest: c.subject_transform.dest }
      : undefined,
    allow_msg_ttl: c.allow_msg_ttl || undefined,
    subject_delete_marker_ttl: duration(c.subject_delete_marker_ttl),
    allow_msg_counter: c.allow_msg_counter || undefined,
    allow_atomic: c.allow_atomic || undefined,
    allow_msg_schedules: c.allow_msg_schedules || undefined,
    allow_batched: c.allow_batched || undefined,
  });
}

/** The server's default `max_waiting` of a pull consumer. */
const DEFAULT_MAX_WAITING = 512;

/** A durable consumer's config as a declaration. */
export function consumerDecl(stream: string, name: string, c: ConsumerConfig): Decl {
  const acked = c.ack_policy !== "none";
  const push = !!c.deliver_subject;
  const filters = c.filter_subjects?.length
    ? c.filter_subjects
    : c.filter_subject
    ? [c.filter_subject]
    : [];
  return compact({
    stream,
    name,
    description: c.description || undefined,
    filter_subject: filters.length === 1 ? filters[0] : undefined,
    filter_subjects: filters.length > 1 ? filters : undefined,
    ack_policy: unless(c.ack_policy, "explicit"),
    deliver_policy: unless(c.deliver_policy, "all"),
    opt_start_seq: c.opt_start_seq || undefined,
    opt_start_time: c.opt_start_time,
    replay_policy: unless(c.replay_policy, "instant"),
    max_deliver: unless(c.max_deliver ?? -1, -1),
    // With a backoff list the server sets ack_wait to its first step.
    ack_wait: acked && !c.backoff?.length && c.ack_wait !== 30_000 * NS_PER_MS
      ? duration(c.ack_wait)
      : undefined,
    max_ack_pending: acked ? unless(c.max_ack_pending, 1000) : undefined,
    max_waiting: push ? undefined : unless(c.max_waiting, DEFAULT_MAX_WAITING),
    backoff: c.backoff?.length ? c.backoff.map((b) => duration(b) ?? 0) : undefined,
    deliver_subject: c.deliver_subject || undefined,
    deliver_group: c.deliver_group || undefined,
    idle_heartbeat: duration(c.idle_heartbeat),
    flow_control: c.flow_control || undefined,
    headers_only: c.headers_only || undefined,
    inactive_threshold: duration(c.inactive_threshold),
    replicas: c.num_replicas || undefined,
    metadata: userMetadata(c.metadata),
    priority_groups: c.priority_groups?.length ? c.priority_groups : undefined,
    priority_policy: unless(c.priority_policy, "none"),
    priority_timeout: c.priority_policy === "pinned_client"
      ? duration(c.priority_timeout)
      : undefined,
    pause_until: c.pause_until,
  });
}

/** The stream behind a KV bucket as a bucket declaration. */
export function kvDecl(c: StreamConfig): Decl {
  return compact({
    bucket: c.name.slice(KV_PREFIX.length),
    description: c.description || undefined,
    ttl: duration(c.max_age),
    history: unless(c.max_msgs_per_subject, 1),
    storage: unless(c.storage, "file"),
    replicas: unless(c.num_replicas, 1),
    max_bytes: size(c.max_bytes),
    max_value_size: size(c.max_msg_size),
    placement: placement(c.placement),
  });
}

/** The stream behind an Object Store bucket as a bucket declaration. */
export function objectStoreDecl(c: StreamConfig): Decl {
  return compact({
    bucket: c.name.slice(OBJ_PREFIX.length),
    description: c.description || undefined,
    ttl: duration(c.max_age),
    storage: unless(c.storage, "file"),
    replicas: unless(c.num_replicas, 1),
    max_bytes: size(c.max_bytes),
    placement: placement(c.placement),
    compression: c.compression === "s2" || undefined,
    metadata: userMetadata(c.metadata),
  });
}

/** What to export. */
export interface ExportSelection {
  /** Every stream, bucket and durable consumer on the server. */
  all: boolean;
  /** These streams (and their durable consumers), when not `all`. */
  streams: string[];
  /** These KV buckets, when not `all`. */
  buckets: string[];
  /** These Object Store buckets, when not `all`. */
  objectStores: string[];
}

/** What export found: the declarations, and what it left out and why (one line each). */
export interface ExportResult {
  streams: Decl[];
  consumers: Decl[];
  kv: Decl[];
  object_stores: Decl[];
  skipped: string[];
}

/** Reads the server and builds the declarations of `selection`. */
export async function exportDeclarations(
  jsm: JetStreamManager,
  selection: ExportSelection,
): Promise<ExportResult> {
  const out: ExportResult = { streams: [], consumers: [], kv: [], object_stores: [], skipped: [] };
  const infos = await collect<StreamInfo>(jsm.streams.list());
  infos.sort((a, b) => (a.config.name < b.config.name ? -1 : 1));
  const found = new Set(infos.map((i) => i.config.name));
  const wanted = (name: string) =>
    selection.all || selection.streams.includes(name) ||
    (name.startsWith(KV_PREFIX) && selection.buckets.includes(name.slice(KV_PREFIX.length))) ||
    (name.startsWith(OBJ_PREFIX) &&
      selection.objectStores.includes(name.slice(OBJ_PREFIX.length)));
  for (
    const name of [
      ...selection.streams,
      ...selection.buckets.map((b) => KV_PREFIX + b),
      ...selection.objectStores.map((b) => OBJ_PREFIX + b),
    ]
  ) {
    if (!found.has(name)) out.skipped.push(`${name}: not on the server`);
  }
  for (const info of infos) {
    const name = info.config.name;
    if (!wanted(name)) continue;
    if (name.startsWith(OBJ_PREFIX)) {
      out.object_stores.push(objectStoreDecl(info.config));
      continue;
    }
    if (name.startsWith(KV_PREFIX)) {
      out.kv.push(kvDecl(info.config));
      continue;
    }
    out.streams.push(streamDecl(info.config));
    const consumers = await collect<ConsumerInfo>(jsm.consumers.list(name));
    consumers.sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const c of consumers) {
      // Ephemeral consumers come and go with their clients: not configuration.
      if (!c.config.durable_name) continue;
      out.consumers.push(consumerDecl(name, c.name, c.config));
    }
  }
  return out;
}
