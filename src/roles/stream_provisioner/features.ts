/**
 * Declared features the connected server lacks. A 2.9 server silently drops fields it does not
 * know (docs/nats-notes.md "Stream and consumer updates"), so these are refused before any call,
 * naming the object and the version.
 * @module
 */
import { type Feature, FEATURES, supports } from "../../nats/version.ts";
import type { ProvisionerConfig } from "./config.ts";

/** One line per declared feature that a server of `version` does not support. */
export function unsupportedFeatures(cfg: ProvisionerConfig, version: string): string[] {
  const problems: string[] = [];
  const need = (object: string, field: string, feature: Feature, what: string) => {
    if (supports(version, feature)) return;
    problems.push(
      `${object}: ${field} (${what}) needs nats-server ${FEATURES[feature]} or newer; ` +
        `this server is ${version}. Remove ${field} or upgrade the server.`,
    );
  };
  for (const s of cfg.streams) {
    if (s.metadata && Object.keys(s.metadata).length > 0) {
      need(`stream ${s.name}`, "metadata", "metadata", "stream metadata");
    }
    if (s.compression === "s2") need(`stream ${s.name}`, "compression", "compression", "s2");
  }
  for (const c of cfg.consumers) {
    const object = `consumer ${c.stream}/${c.name}`;
    // A single filter is sent as filter_subject, which every version understands.
    if ((c.filter_subjects?.length ?? 0) > 1) {
      need(object, "filter_subjects", "filterSubjects", "several filter subjects");
    }
    if (c.metadata && Object.keys(c.metadata).length > 0) {
      need(object, "metadata", "metadata", "consumer metadata");
    }
  }
  return problems;
}
