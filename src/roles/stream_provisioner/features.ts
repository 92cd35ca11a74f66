/**
 * Declared fields the connected server lacks, judged from the one per-version field table in
 * `src/nats/version.ts`. A 2.9 or 2.10 server silently drops a field it does not know and a 2.12+
 * server rejects it (strict API), so these are refused before any call, naming the object, the
 * field and the version it needs; and a request never carries a field the server does not know.
 * @module
 */
import {
  CONSUMER_FIELDS_SINCE,
  type FieldSince,
  PRIORITY_POLICY_SINCE,
  STREAM_FIELDS_SINCE,
  versionAtLeast,
} from "../../nats/version.ts";
import type { ConsumerDecl, ProvisionerConfig, StreamDecl } from "./config.ts";

/** True when `v` says something: not absent, not an empty list or map. */
function declared(v: unknown): boolean {
  if (v === undefined) return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === "object" && v !== null) return Object.keys(v).length > 0;
  return true;
}

/** The table's fields a stream declaration uses (nested ones as `parent.field`). */
function streamFields(s: StreamDecl): string[] {
  const used = Object.keys(STREAM_FIELDS_SINCE).filter((f) =>
    !f.includes(".") && declared(s[f as keyof StreamDecl])
  );
  // s2 is the 2.10 feature; "none" is what every server does anyway (and is not sent to 2.9).
  if (s.compression === "none") used.splice(used.indexOf("compression"), 1);
  if (s.sources?.some((x) => x.subject_transforms)) used.push("sources.subject_transforms");
  if (s.mirror?.subject_transforms) used.push("mirror.subject_transforms");
  return used;
}

/** The table's fields a consumer declaration uses. */
function consumerFields(c: ConsumerDecl): string[] {
  return Object.keys(CONSUMER_FIELDS_SINCE).filter((f) =>
    // A single filter is sent as filter_subject, which every version understands.
    f === "filter_subjects"
      ? (c.filter_subjects?.length ?? 0) > 1
      : declared(c[f as keyof ConsumerDecl])
  );
}

/** One line per declared field (or value) that a server of `version` does not support. */
export function unsupportedFeatures(cfg: ProvisionerConfig, version: string): string[] {
  const problems: string[] = [];
  const need = (object: string, field: string, { since, what }: FieldSince) => {
    if (versionAtLeast(version, since)) return;
    problems.push(
      `${object}: ${field} (${what}) needs nats-server ${since} or newer; this server is ` +
        `${version}. Remove ${field} or upgrade the server.`,
    );
  };
  for (const s of cfg.streams) {
    for (const f of streamFields(s)) need(`stream ${s.name}`, f, STREAM_FIELDS_SINCE[f]);
  }
  for (const o of cfg.object_stores) {
    if (o.compression) {
      need(`object_store ${o.bucket}`, "compression", STREAM_FIELDS_SINCE.compression);
    }
    if (declared(o.metadata)) {
      need(`object_store ${o.bucket}`, "metadata", STREAM_FIELDS_SINCE.metadata);
    }
  }
  for (const c of cfg.consumers) {
    const object = `consumer ${c.stream}/${c.name}`;
    const fields = consumerFields(c);
    for (const f of fields) need(object, f, CONSUMER_FIELDS_SINCE[f]);
    // The field itself is refused above on servers older than it; on newer ones, the value.
    const policy = c.priority_policy;
    if (policy && versionAtLeast(version, CONSUMER_FIELDS_SINCE.priority_policy.since)) {
      need(object, `priority_policy ${policy}`, {
        since: PRIORITY_POLICY_SINCE[policy],
        what: `the ${policy} policy`,
      });
    }
  }
  return problems;
}

/**
 * `request` without the fields a server of `version` does not know (by the table), so nothing
 * unknown reaches a strict server; plan has refused any such field that was declared with a
 * meaning, so what goes is only a default (`compression: none` to 2.9).
 */
export function knownFields<T extends object>(
  request: T,
  table: Readonly<Record<string, FieldSince>>,
  version: string,
): T {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(request)) {
    const since = table[key]?.since;
    if (since && !versionAtLeast(version, since)) continue;
    out[key] = value;
  }
  return out as T;
}
