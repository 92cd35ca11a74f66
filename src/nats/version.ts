/**
 * Server-version checks, kept in one place: behaviour that differs between nats-server 2.9 and
 * later (term reasons, filter_subjects, metadata) branches on these.
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
} as const;

/** A feature name. */
export type Feature = keyof typeof FEATURES;

/** True when a server of `version` supports `feature`. */
export function supports(version: string, feature: Feature): boolean {
  return versionAtLeast(version, FEATURES[feature]);
}
