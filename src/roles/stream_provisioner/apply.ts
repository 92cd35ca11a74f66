/**
 * Carries out a plan: creates what is missing, updates in place what the server can change,
 * refuses destructive changes unless allowed (then deletes and recreates, with a warning), and
 * reads every object back after writing it, because a server may drop fields it does not know.
 * @module
 */
import type { ConsumerInfo, JetStreamManager, StreamConfig, StreamInfo } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { Kvm } from "@nats-io/kv";
import { jetstream } from "@nats-io/jetstream";
import { delay } from "../../platform/delay.ts";
import { isTransient } from "../../nats/errors.ts";
import type { KvDecl } from "./config.ts";
import {
  type Change,
  type DeclaredObject,
  diffDeclared,
  formatChange,
  formatChanges,
} from "./diff.ts";
import {
  consumerRequest,
  KV_PREFIX,
  kvStreamUpdate,
  objectStoreRequest,
  streamRequest,
} from "./model.ts";
import type { Plan, PlanItem } from "./plan.ts";
import { knownFields } from "./features.ts";
import { CONSUMER_FIELDS_SINCE, STREAM_FIELDS_SINCE } from "../../nats/version.ts";

/** How apply reports progress: one call per object, at the level it deserves. */
export type Progress = (level: "info" | "warning" | "error", line: string) => void;

/** Apply options. */
export interface ApplyOptions {
  /** Allow deleting and recreating objects whose change cannot be made in place. */
  allowDestructive: boolean;
  /** Progress callback. */
  progress: Progress;
}

/** What apply did. */
export interface ApplyResult {
  created: number;
  updated: number;
  recreated: number;
  unchanged: number;
  /** Destructive changes refused (no --allow-destructive). */
  refused: number;
  /** Objects whose read-back differs from the declaration (fields the server dropped). */
  dropped: string[];
  /** Objects the server refused to create or update (the run fails). */
  failed: string[];
}

/** True when the server still differs from the declarations after apply. */
export function applyLeftDrift(r: ApplyResult): boolean {
  return r.refused > 0 || r.dropped.length > 0;
}

/** Applies `plan`; see the module doc. */
export async function applyPlan(
  nc: NatsConnection,
  jsm: JetStreamManager,
  plan: Plan,
  options: ApplyOptions,
): Promise<ApplyResult> {
  const result: ApplyResult = {
    created: 0,
    updated: 0,
    recreated: 0,
    unchanged: 0,
    refused: 0,
    dropped: [],
    failed: [],
  };
  const { progress } = options;
  const recreatedStreams = new Set<string>();
  const version = plan.serverVersion;

  for (const item of plan.items) {
    const what = `${item.type} ${item.id}`;
    // A consumer of a stream that was just recreated went with it: create it again.
    const streamGone = item.type === "consumer" && recreatedStreams.has(item.decl.stream);
    if (item.action === "unchanged" && !streamGone) {
      result.unchanged++;
      progress("info", `${what}: unchanged`);
      continue;
    }
    if (item.action === "destructive" && !options.allowDestructive) {
      result.refused++;
      const fixed = item.changes.filter((c) => c.fixed).map((c) => `${formatChange(c)}: ${c.fixed}`)
        .join("; ");
      progress(
        "error",
        `${what}: REFUSED destructive change (${fixed}): ${item.loss}. ` +
          "Nothing was changed; rerun with --allow-destructive to accept the loss.",
      );
      continue;
    }
    try {
      const write = () =>
        writeItem(nc, jsm, item, { streamGone, result, recreatedStreams, progress, version });
      // A destructive write deletes first: repeating it could delete what its first try created.
      if (item.action === "destructive") await write();
      else await throughElections(write, () => progress("warning", `${what}: no answer, retrying`));
    } catch (err) {
      // One object the server refuses does not stop the others; the run still fails (exit 1).
      result.failed.push(item.id);
      progress("error", `${what}: FAILED: ${(err as Error).message}`);
    }
  }
  return result;
}

/** How long a create or update is retried while the cluster does not answer (an election). */
const ELECTION_WAIT_MS = 30_000;
const ELECTION_RETRY_MS = 500;

/**
 * Runs `write` again while it fails with a transient error (a timeout or 503 while the meta
 * group or the stream's group elects a leader), for up to {@link ELECTION_WAIT_MS}. Only for
 * creates and updates: the server answers a create with the existing object when it is the same,
 * so a create whose first answer was lost is not an error the second time.
 */
async function throughElections(write: () => Promise<void>, onRetry: () => void): Promise<void> {
  const until = Date.now() + ELECTION_WAIT_MS;
  for (let told = false;; told = true) {
    try {
      return await write();
    } catch (err) {
      if (!isTransient(err) || Date.now() >= until) throw err;
      if (!told) onRetry();
      await delay(ELECTION_RETRY_MS);
    }
  }
}

/** What one write needs besides the object. */
interface WriteContext {
  /** The item's stream was recreated earlier in this run (consumers only). */
  streamGone: boolean;
  result: ApplyResult;
  recreatedStreams: Set<string>;
  progress: Progress;
  /** The server's version: requests carry only fields it knows. */
  version: string;
}

/** Writes one object, reads it back, and reports fields the server did not keep. */
async function writeItem(
  nc: NatsConnection,
  jsm: JetStreamManager,
  item: PlanItem,
  { streamGone, result, recreatedStreams, progress, version }: WriteContext,
) {
  let written: DeclaredObject;
  switch (item.type) {
    case "stream": {
      const info = await writeStream(jsm, item, progress, recreatedStreams, version);
      written = { type: "stream", decl: item.decl, config: info.config };
      break;
    }
    case "kv": {
      const info = await writeKv(nc, jsm, item, progress);
      written = { type: "kv", decl: item.decl, config: info.config };
      break;
    }
    case "object_store": {
      const info = await writeObjectStore(jsm, item, progress, version);
      written = { type: "object_store", decl: item.decl, config: info.config };
      break;
    }
    case "consumer": {
      const info = await writeConsumer(jsm, item, streamGone, progress, version);
      written = { type: "consumer", decl: item.decl, config: info.config };
      break;
    }
  }
  count(result, item, streamGone);
  const lost = diffDeclared(written);
  if (lost.length > 0) {
    result.dropped.push(item.id);
    progress(
      "error",
      `${item.type} ${item.id}: the server did not keep ${
        lost.map((c) => `${c.field} (has ${c.from}, declared ${c.to})`).join(", ")
      }; ` +
        "it may not support these fields",
    );
  }
}

function count(result: ApplyResult, item: PlanItem, streamGone: boolean) {
  if (item.action === "create" || streamGone) result.created++;
  else if (item.action === "destructive" && item.recreate) result.recreated++;
  else result.updated++;
}

async function writeStream(
  jsm: JetStreamManager,
  item: Extract<PlanItem, { type: "stream" }>,
  progress: Progress,
  recreatedStreams: Set<string>,
  version: string,
): Promise<StreamInfo> {
  const what = `stream ${item.id}`;
  const request = knownFields(streamRequest(item.decl), STREAM_FIELDS_SINCE, version);
  if (item.action === "create" || !item.actual) {
    const info = await jsm.streams.add(request);
    progress("info", `${what}: created`);
    return info;
  }
  if (item.action === "destructive" && item.recreate) {
    progress("warning", `${what}: RECREATING (${item.loss})`);
    await jsm.streams.delete(item.id);
    recreatedStreams.add(item.id);
    const info = await jsm.streams.add(request);
    progress("warning", `${what}: recreated`);
    return info;
  }
  const merged = mergeConfig(item.actual.config, request, STREAM_RESETTABLE);
  const info = await updateStream(jsm, item.id, item.actual.config, merged, item.changes);
  const changes = formatChanges(item.changes);
  if (item.action === "destructive") {
    progress("warning", `${what}: updated with loss (${changes}): ${item.loss}`);
  } else progress("info", `${what}: updated (${changes})`);
  return info;
}

async function writeConsumer(
  jsm: JetStreamManager,
  item: Extract<PlanItem, { type: "consumer" }>,
  streamGone: boolean,
  progress: Progress,
  version: string,
): Promise<ConsumerInfo> {
  const what = `consumer ${item.id}`;
  const stream = item.decl.stream;
  const request = knownFields(consumerRequest(item.decl), CONSUMER_FIELDS_SINCE, version);
  if (item.action === "create" || streamGone || !item.actual) {
    const info = await jsm.consumers.add(stream, request);
    progress("info", `${what}: created`);
    return info;
  }
  if (item.action === "destructive") {
    progress("warning", `${what}: RECREATING (${item.loss})`);
    await jsm.consumers.delete(stream, item.decl.name);
    const info = await jsm.consumers.add(stream, request);
    progress("warning", `${what}: recreated`);
    return info;
  }
  const merged = mergeConfig(item.actual.config, request, CONSUMER_RESETTABLE);
  const info = await jsm.consumers.update(stream, item.decl.name, merged);
  progress("info", `${what}: updated (${formatChanges(item.changes)})`);
  return info;
}

async function writeKv(
  nc: NatsConnection,
  jsm: JetStreamManager,
  item: Extract<PlanItem, { type: "kv" }>,
  progress: Progress,
): Promise<StreamInfo> {
  const what = `kv ${item.id}`;
  const stream = KV_PREFIX + item.id;
  if (item.action === "destructive") {
    progress("warning", `${what}: RECREATING (${item.loss})`);
    await jsm.streams.delete(stream);
  }
  if (item.action !== "update" || !item.actual) {
    await new Kvm(jetstream(nc)).create(item.id, kvOptions(item.decl));
    progress(item.action === "destructive" ? "warning" : "info", `${what}: created`);
    return await jsm.streams.info(stream);
  }
  const merged = mergeConfig(item.actual.config, kvStreamUpdate(item.decl), STREAM_RESETTABLE);
  const info = await updateStream(jsm, stream, item.actual.config, merged, item.changes);
  progress("info", `${what}: updated (${formatChanges(item.changes)})`);
  return info;
}

/** Creates, updates or recreates the stream behind an Object Store bucket. */
async function writeObjectStore(
  jsm: JetStreamManager,
  item: Extract<PlanItem, { type: "object_store" }>,
  progress: Progress,
  version: string,
): Promise<StreamInfo> {
  const what = `object_store ${item.id}`;
  const request = knownFields(objectStoreRequest(item.decl), STREAM_FIELDS_SINCE, version);
  if (item.action === "destructive") {
    progress("warning", `${what}: RECREATING (${item.loss})`);
    await jsm.streams.delete(request.name);
  }
  if (item.action !== "update" || !item.actual) {
    const info = await jsm.streams.add(request);
    progress(item.action === "destructive" ? "warning" : "info", `${what}: created`);
    return info;
  }
  const merged = mergeConfig(item.actual.config, request, STREAM_RESETTABLE);
  const info = await updateStream(jsm, request.name, item.actual.config, merged, item.changes);
  progress("info", `${what}: updated (${formatChanges(item.changes)})`);
  return info;
}

/**
 * Updates a stream in place. A new placement moves the stream, and the server refuses to "move
 * and scale a stream in a single update"; a placement sent right after a scale-up times out while
 * the new peers join (2.9.10 and 2.10.27 alike). So when both change, the placement goes first,
 * under the old replica count, then the replica count.
 */
async function updateStream(
  jsm: JetStreamManager,
  name: string,
  actual: StreamConfig,
  merged: StreamConfig,
  changes: Change[],
): Promise<StreamInfo> {
  const changed = new Set(changes.map((c) => c.field));
  if (!changed.has("replicas") || !changed.has("placement")) {
    return await jsm.streams.update(name, merged);
  }
  await jsm.streams.update(name, { ...merged, num_replicas: actual.num_replicas });
  // The move may still be under way (2.9 reports it as "move and scale" again, 2.15 as "stream
  // move already in progress"): retry the scale.
  for (let waited = 0;; waited += MOVE_RETRY_MS) {
    try {
      return await jsm.streams.update(name, merged);
    } catch (err) {
      if (!/move and scale|move already in progress/i.test(String(err)) || waited >= MOVE_WAIT_MS) {
        throw err;
      }
      await delay(MOVE_RETRY_MS);
    }
  }
}

/** How long a scale waits for a placement move that is still under way. */
const MOVE_WAIT_MS = 30_000;
const MOVE_RETRY_MS = 500;

function kvOptions(d: KvDecl) {
  return {
    description: d.description,
    ttl: d.ttl,
    history: d.history,
    storage: d.storage,
    replicas: d.replicas,
    max_bytes: d.max_bytes,
    maxValueSize: d.max_value_size,
    ...(d.placement ? { placement: { cluster: "", tags: [], ...d.placement } } : {}),
  } as const;
}

/** Fields whose absence from a declaration means "none" (so removing them is a change). */
const STREAM_RESETTABLE = new Set(["description", "metadata"]);
const CONSUMER_RESETTABLE = new Set([
  "description",
  "metadata",
  "backoff",
  "deliver_group",
  "filter_subject",
  "filter_subjects",
]);

/**
 * The server's config with the declared fields laid over it: fields the declaration does not
 * manage (sources, republish, ...) are kept; resettable fields it leaves out are removed.
 */
function mergeConfig<T extends object>(actual: T, request: object, resettable: Set<string>): T {
  const merged: Record<string, unknown> = { ...(actual as Record<string, unknown>) };
  for (const [key, value] of Object.entries(request)) {
    if (value !== undefined) merged[key] = value;
    else if (resettable.has(key)) delete merged[key];
  }
  return merged as T;
}

/** `Apply: 2 created, 1 updated, 0 recreated, 0 refused, 5 unchanged.` */
export function applySummary(r: ApplyResult): string {
  const changes = r.created + r.updated + r.recreated;
  return `Apply: ${r.created} created, ${r.updated} updated, ${r.recreated} recreated, ` +
    `${r.refused} refused, ${r.unchanged} unchanged` +
    (r.failed.length > 0 ? `, ${r.failed.length} FAILED (${r.failed.join(", ")})` : "") +
    (changes === 0 ? " (no changes)." : ".") +
    (r.dropped.length > 0 ? ` Server dropped fields of: ${r.dropped.join(", ")}.` : "");
}
