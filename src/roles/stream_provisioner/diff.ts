/**
 * Field-by-field differences between a declaration and the server, in the units users write
 * (`update max_age: 7d → 14d`), and which differences the server cannot make in place.
 * @module
 */
import type { ConsumerConfig, StreamConfig } from "@nats-io/jetstream";
import { formatDuration, formatSize } from "../../config/units.ts";
import type { ConsumerDecl, KvDecl, ObjectStoreDecl, StreamDecl } from "./config.ts";
import {
  type Normal,
  normalConsumerConfig,
  normalConsumerDecl,
  normalKvConfig,
  normalKvDecl,
  normalObjectStoreConfig,
  normalObjectStoreDecl,
  normalStreamConfig,
  normalStreamDecl,
} from "./model.ts";

/** How a field's values are shown. */
type Kind = "duration" | "age" | "size" | "count" | "durations" | "value";

/** A compared field: how to show it, and why the server cannot change it in place (if so). */
interface FieldSpec {
  kind: Kind;
  fixed?: string;
}

/** One difference. */
export interface Change {
  /** The declaration's key, e.g. `max_age`. */
  field: string;
  /** The server's value, formatted. */
  from: string;
  /** The declared value, formatted. */
  to: string;
  /** Why this change cannot be made in place (it needs delete + create), if so. */
  fixed?: string;
  /** Why this change, made in place, cannot be undone later, if so (shown by plan). */
  irreversible?: string;
}

const STORAGE = "the storage type of a stream cannot change in place";
const RETENTION = "the retention policy of a stream cannot change in place";

/** Stream fields (normal form keys). */
const STREAM_FIELDS: Record<string, FieldSpec> = {
  subjects: { kind: "value" },
  description: { kind: "value" },
  retention: { kind: "value", fixed: RETENTION },
  storage: { kind: "value", fixed: STORAGE },
  max_age: { kind: "age" },
  max_msgs: { kind: "count" },
  max_bytes: { kind: "size" },
  max_msg_size: { kind: "size" },
  max_msgs_per_subject: { kind: "count" },
  max_consumers: { kind: "count", fixed: "max_consumers cannot change in place" },
  discard: { kind: "value" },
  duplicate_window: { kind: "duration" },
  replicas: { kind: "count" },
  placement: { kind: "value" },
  allow_direct: { kind: "value" },
  allow_rollup_hdrs: { kind: "value" },
  deny_delete: { kind: "value" },
  deny_purge: { kind: "value" },
  compression: { kind: "value" },
  metadata: { kind: "value" },
  mirror: { kind: "value", fixed: "the mirror of a stream cannot change in place" },
  sources: { kind: "value" },
  republish: { kind: "value" },
  subject_transform: { kind: "value" },
  allow_msg_ttl: { kind: "value" },
  subject_delete_marker_ttl: { kind: "duration" },
  allow_msg_counter: {
    kind: "value",
    fixed: "a stream cannot become or stop being a counter stream in place",
  },
  allow_atomic: { kind: "value" },
  allow_msg_schedules: { kind: "value" },
  allow_batched: { kind: "value" },
};

/** Settings the server lets a stream turn on but never off again (`server/stream.go`). */
const ONE_WAY: Record<string, string> = {
  allow_msg_ttl: "per-message TTL cannot be turned off again once on",
  allow_msg_schedules: "message schedules cannot be turned off again once on",
};

const CONSUMER_FIXED = (what: string) => `the ${what} of a consumer cannot change in place`;

/** Consumer fields (normal form keys). */
const CONSUMER_FIELDS: Record<string, FieldSpec> = {
  description: { kind: "value" },
  filter_subjects: { kind: "value" },
  ack_policy: { kind: "value", fixed: CONSUMER_FIXED("ack policy") },
  deliver_policy: { kind: "value", fixed: CONSUMER_FIXED("deliver policy") },
  opt_start_seq: { kind: "count", fixed: CONSUMER_FIXED("start sequence") },
  opt_start_time: { kind: "value", fixed: CONSUMER_FIXED("start time") },
  replay_policy: { kind: "value", fixed: CONSUMER_FIXED("replay policy") },
  max_deliver: { kind: "count" },
  ack_wait: { kind: "duration" },
  max_ack_pending: { kind: "count" },
  max_waiting: { kind: "count", fixed: CONSUMER_FIXED("max_waiting") },
  backoff: { kind: "durations" },
  deliver_subject: { kind: "value" },
  deliver_group: { kind: "value" },
  idle_heartbeat: { kind: "duration", fixed: CONSUMER_FIXED("idle heartbeat") },
  flow_control: { kind: "value", fixed: CONSUMER_FIXED("flow control") },
  headers_only: { kind: "value" },
  inactive_threshold: { kind: "duration" },
  replicas: { kind: "count" },
  metadata: { kind: "value" },
  priority_groups: { kind: "value" },
  priority_policy: { kind: "value" },
  priority_timeout: { kind: "duration" },
  pause_until: { kind: "value" },
};

/** KV bucket fields (normal form keys). */
const KV_FIELDS: Record<string, FieldSpec> = {
  description: { kind: "value" },
  ttl: { kind: "age" },
  history: { kind: "count" },
  storage: { kind: "value", fixed: "the storage type of a bucket cannot change in place" },
  replicas: { kind: "count" },
  max_bytes: { kind: "size" },
  max_value_size: { kind: "size" },
  placement: { kind: "value" },
};

/** Object Store bucket fields (normal form keys). */
const OBJECT_STORE_FIELDS: Record<string, FieldSpec> = {
  description: { kind: "value" },
  ttl: { kind: "age" },
  storage: { kind: "value", fixed: "the storage type of a bucket cannot change in place" },
  replicas: { kind: "count" },
  max_bytes: { kind: "size" },
  placement: { kind: "value" },
  compression: { kind: "value" },
  metadata: { kind: "value" },
};

/** Formats a normal-form value the way users write it in the YAML. */
function formatValue(kind: Kind, v: unknown): string {
  if (v === undefined || v === "") return "(none)";
  if (typeof v === "number") {
    if (v === -1 && kind !== "value") return "unlimited";
    if (kind === "age") return v === 0 ? "unlimited" : formatDuration(v);
    if (kind === "duration") return formatDuration(v);
    if (kind === "size") return formatSize(v);
    return String(v);
  }
  if (Array.isArray(v)) {
    return `[${v.map((x) => (kind === "durations" ? formatDuration(x) : String(x))).join(", ")}]`;
  }
  if (typeof v === "object" && v !== null) {
    const entries = Object.entries(v).filter(([, x]) =>
      x !== "" && !(Array.isArray(x) && x.length === 0)
    );
    return entries.length === 0 ? "{}" : `{${entries.map(([k, x]) => `${k}: ${x}`).join(", ")}}`;
  }
  return String(v);
}

/**
 * The fields where `desired` differs from `actual`; fields `desired` leaves undefined are skipped.
 */
function diffNormal(
  fields: Record<string, FieldSpec>,
  desired: Normal,
  actual: Normal,
): Change[] {
  const changes: Change[] = [];
  for (const [field, spec] of Object.entries(fields)) {
    const want = desired[field];
    if (want === undefined) continue;
    const have = actual[field];
    if (JSON.stringify(want) === JSON.stringify(have)) continue;
    changes.push({
      field,
      from: formatValue(spec.kind, have),
      to: formatValue(spec.kind, want),
      fixed: spec.fixed,
    });
  }
  return changes;
}

/** A declared object and the config the server has for it. */
export type DeclaredObject =
  | { type: "stream"; decl: StreamDecl; config: Partial<StreamConfig> }
  | { type: "consumer"; decl: ConsumerDecl; config: Partial<ConsumerConfig> }
  | { type: "kv"; decl: KvDecl; config: Partial<StreamConfig> }
  | { type: "object_store"; decl: ObjectStoreDecl; config: Partial<StreamConfig> };

/**
 * Where the server's config differs from the declaration, field by field, each change marked
 * `fixed` when the server cannot make it in place. Used for the plan (the server as found) and
 * after apply (the server's answer: what it did not keep).
 */
export function diffDeclared(o: DeclaredObject): Change[] {
  switch (o.type) {
    case "stream": {
      const changes = diffNormal(
        STREAM_FIELDS,
        normalStreamDecl(o.decl),
        normalStreamConfig(o.config),
      );
      for (const c of changes) {
        const oneWay = ONE_WAY[c.field];
        if (!oneWay) continue;
        // On: in place, for good. Off: only by recreating the stream.
        if (c.to === "true") c.irreversible = oneWay;
        else c.fixed = oneWay;
      }
      return changes;
    }
    case "kv":
      return diffNormal(KV_FIELDS, normalKvDecl(o.decl), normalKvConfig(o.config));
    case "object_store":
      return diffNormal(
        OBJECT_STORE_FIELDS,
        normalObjectStoreDecl(o.decl),
        normalObjectStoreConfig(o.config),
      );
    case "consumer": {
      const changes = diffNormal(
        CONSUMER_FIELDS,
        normalConsumerDecl(o.decl),
        normalConsumerConfig(o.config),
      );
      // A deliver subject may change in place; gaining or losing one turns pull into push.
      for (const c of changes) {
        if (c.field === "deliver_subject" && (c.from === "(none)" || c.to === "(none)")) {
          c.fixed = "a consumer cannot switch between push and pull in place";
        }
      }
      return changes;
    }
  }
}

/** Formats a change as `max_age: 7d → 14d`. */
export function formatChange(c: Change): string {
  return `${c.field}: ${c.from} → ${c.to}`;
}

/** Formats changes as `max_age: 7d → 14d, replicas: 1 → 3`. */
export function formatChanges(changes: Change[]): string {
  return changes.map(formatChange).join(", ");
}
