/**
 * Server-version checks, kept in one place: behaviour that differs between nats-server 2.9 and
 * later (term reasons, filter_subjects, metadata) branches on these, and the table of which stream
 * and consumer config fields each server version knows. Older servers drop a field they do not
 * know (2.9, 2.10), newer ones reject it (the JetStream API is strict by default from 2.12, opt-in
 * on 2.11), so a request carries only fields the connected server has. Each version was read from
 * the nats-server source (`server/stream.go`, `server/consumer.go` at the release tags).
 * @module
 */

/** Parses `2.10.4` (or `v2.10.4-beta`) into numbers. */
export function parseVersion(v: string): [number, number, number] {
  const m = /(\d+)\.(\d+)\.(\d+)/.exec(v);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : [0, 0, 0];
}

/** True when `version` is `min` or newer. */
export function versionAtLeast(version: string, min: string): boolean {
  const a = parseVersion(version);
  const b = parseVersion(min);
  for (let i = 0; i < 3; i++) {
    if (a[i] !== b[i]) return a[i] > b[i];
  }
  return true;
}

/** Features that need a minimum server version. */
export const FEATURES = {
  /** `+TERM <reason>` is honoured (before, a term with a reason is ignored). */
  termReason: "2.10.4",
  /** Consumers with several filter subjects. */
  filterSubjects: "2.10.0",
  /** `metadata` on streams and consumers. */
  metadata: "2.10.0",
  /** Stream compression. */
  compression: "2.10.0",
  /** Pausing a consumer until a time (`$JS.API.CONSUMER.PAUSE`). */
  consumerPause: "2.11.0",
  /** Per-message TTL (`Nats-TTL`, streams with `allow_msg_ttl`). */
  messageTtl: "2.11.0",
} as const;

/** A feature name. */
export type Feature = keyof typeof FEATURES;

/** True when a server of `version` supports `feature`. */
export function supports(version: string, feature: Feature): boolean {
  return versionAtLeast(version, FEATURES[feature]);
}

/** A config field and the first server release that knows it. */
export interface FieldSince {
  /** The first nats-server release that has the field. */
  since: string;
  /** What the field is, in a few words, for messages. */
  what: string;
}

/**
 * Stream config fields newer than 2.9 (the oldest supported server), by their JSON name; nested
 * fields as `parent.field`. Fields not listed here are known to every supported server.
 */
export const STREAM_FIELDS_SINCE: Readonly<Record<string, FieldSince>> = {
  metadata: { since: "2.10.0", what: "stream metadata" },
  compression: { since: "2.10.0", what: "s2 compression" },
  subject_transform: { since: "2.10.0", what: "a subject transform on the stream" },
  "sources.subject_transforms": { since: "2.10.0", what: "subject transforms of a source" },
  "mirror.subject_transforms": { since: "2.10.0", what: "subject transforms of the mirror" },
  allow_msg_ttl: { since: "2.11.0", what: "per-message TTL" },
  subject_delete_marker_ttl: { since: "2.11.0", what: "subject delete markers" },
  allow_msg_counter: { since: "2.12.0", what: "counter streams" },
  allow_atomic: { since: "2.12.0", what: "atomic batch publish" },
  allow_msg_schedules: { since: "2.12.0", what: "message schedules" },
  allow_batched: { since: "2.14.0", what: "fast batch publish" },
};

/** Consumer config fields newer than 2.9, by their JSON name (see {@link STREAM_FIELDS_SINCE}). */
export const CONSUMER_FIELDS_SINCE: Readonly<Record<string, FieldSince>> = {
  filter_subjects: { since: "2.10.0", what: "several filter subjects" },
  metadata: { since: "2.10.0", what: "consumer metadata" },
  priority_groups: { since: "2.11.0", what: "priority groups" },
  priority_policy: { since: "2.11.0", what: "a priority policy" },
  priority_timeout: { since: "2.11.0", what: "the pinned client timeout" },
  pause_until: { since: "2.11.0", what: "consumer pause" },
};

/** `priority_policy` values newer than the field itself. */
export const PRIORITY_POLICY_SINCE: Readonly<Record<string, string>> = {
  none: "2.11.0",
  overflow: "2.11.0",
  pinned_client: "2.11.0",
  prioritized: "2.12.0",
};

/** The release from which the JetStream API rejects unknown fields by default. */
export const STRICT_API_SINCE = "2.12.0";
