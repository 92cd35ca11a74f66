/**
 * The plan: what the declarations need on the server, object by object (create / update /
 * unchanged / destructive), plus what the server has that nobody declared (never touched).
 * Reading the server is the only effect.
 * @module
 */
import type { ConsumerInfo, JetStreamManager, StreamInfo } from "@nats-io/jetstream";
import type { ServerInfo } from "@nats-io/nats-core";
import type {
  ConsumerDecl,
  KvDecl,
  ObjectStoreDecl,
  ProvisionerConfig,
  StreamDecl,
} from "./config.ts";
import { type Change, diffDeclared, formatChange } from "./diff.ts";
import { KV_PREFIX, OBJ_PREFIX } from "./model.ts";
import { subjectCovers, subjectMatches, subjectsOverlap } from "./subjects.ts";
import { unsupportedFeatures } from "./features.ts";
import { ProvisionError } from "./errors.ts";
import { isStreamNotFound } from "../../nats/errors.ts";
import { type ClusterView, clusterView, placementProblems } from "./cluster.ts";
import type { MetaView } from "./meta.ts";

/** What happens to one object. */
export type Action = "create" | "update" | "unchanged" | "destructive";

/** The plan for one declared object. */
export type PlanItem =
  & {
    /** `FILES`, `FILES/file-monitor`, or the bucket name. */
    id: string;
    action: Action;
    /** Differences (empty for create / unchanged). */
    changes: Change[];
    /**
     * For `destructive`: true when the change needs delete + create (stored data is lost);
     * false when the server can update in place but stored messages would be orphaned.
     */
    recreate: boolean;
    /** For `destructive`: what would be lost, in words. */
    loss?: string;
  }
  & (
    | { type: "stream"; decl: StreamDecl; actual?: StreamInfo }
    | { type: "consumer"; decl: ConsumerDecl; actual?: ConsumerInfo }
    | { type: "kv"; decl: KvDecl; actual?: StreamInfo }
    | { type: "object_store"; decl: ObjectStoreDecl; actual?: StreamInfo }
  );

/** An object on the server that no declaration names. */
export interface Extra {
  type: PlanItem["type"];
  id: string;
  /** Who else manages it, when known. */
  note?: string;
}

/** The whole plan. */
export interface Plan {
  /** The server's version. */
  serverVersion: string;
  /** The cluster as the connected server describes it. */
  cluster: ClusterView;
  /** Streams first, then KV buckets, Object Store buckets, consumers (the order apply follows). */
  items: PlanItem[];
  /** Unmanaged objects on the server, listed and left alone. */
  extras: Extra[];
}

/** True when anything declared differs from the server (unmanaged extras do not count). */
export function hasDrift(plan: Plan): boolean {
  return plan.items.some((i) => i.action !== "unchanged");
}

/** Options for {@link buildPlan}. */
export interface PlanOptions {
  /** The connected server's version (from its INFO). */
  serverVersion: string;
  /** Streams other roles own (e.g. the DLQ), noted among the extras. */
  owners?: Record<string, string>;
  /** The connected server's INFO (cluster name, announced servers); none: a single server. */
  server?: ServerInfo;
  /** What the servers answered about the cluster's size (`meta.ts`), when asked. */
  meta?: MetaView;
}

/** Every item of a paged JetStream listing. */
export async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

/** Reads the server and builds the plan; throws {@link ProvisionError} before any change. */
export async function buildPlan(
  jsm: JetStreamManager,
  cfg: ProvisionerConfig,
  options: PlanOptions,
): Promise<Plan> {
  const unsupported = unsupportedFeatures(cfg, options.serverVersion);
  if (unsupported.length > 0) throw new ProvisionError("UNSUPPORTED_FEATURE", unsupported);

  const server = new Map<string, StreamInfo>();
  for (const info of await collect<StreamInfo>(jsm.streams.list())) {
    server.set(info.config.name, info);
  }
  await confirmMissing(jsm, [
    ...cfg.streams.map((s) => s.name),
    ...cfg.kv.map((k) => KV_PREFIX + k.bucket),
    ...cfg.object_stores.map((o) => OBJ_PREFIX + o.bucket),
  ], server);
  const declared = new Map(cfg.streams.map((s) => [s.name, s]));
  checkConsumerStreams(cfg, declared, server);
  const cluster = clusterView(options.server, [...server.values()], options.meta);
  const misplaced = placementProblems(cfg, cluster);
  if (misplaced.length > 0) throw new ProvisionError("INVALID_DECLARATION", misplaced);

  const items: PlanItem[] = [];
  const recreated = new Set<string>();
  for (const decl of cfg.streams) {
    const item = await planStream(jsm, decl, server.get(decl.name));
    if (item.action === "create" || (item.action === "destructive" && item.recreate)) {
      recreated.add(decl.name);
    }
    items.push(item);
  }
  for (const decl of cfg.kv) {
    items.push(planBucket({ type: "kv", decl }, server.get(KV_PREFIX + decl.bucket)));
  }
  for (const decl of cfg.object_stores) {
    items.push(planBucket({ type: "object_store", decl }, server.get(OBJ_PREFIX + decl.bucket)));
  }

  const consumers = new Map<string, Map<string, ConsumerInfo>>();
  for (const name of new Set(cfg.consumers.map((c) => c.stream))) {
    if (!server.has(name)) continue;
    const list = await collect<ConsumerInfo>(jsm.consumers.list(name));
    consumers.set(name, new Map(list.map((c) => [c.name, c])));
  }
  for (const decl of cfg.consumers) {
    // A consumer whose stream is (re)created is created with it.
    const actual = recreated.has(decl.stream)
      ? undefined
      : consumers.get(decl.stream)?.get(decl.name);
    items.push(planConsumer(decl, actual));
  }

  return {
    serverVersion: options.serverVersion,
    cluster,
    items,
    extras: await extras(jsm, cfg, server, options),
  };
}

/**
 * Asks for each declared stream the listing left out. In a cluster the listing skips streams whose
 * leader does not answer (a node down, an election running), and planning to create a stream that
 * exists would fail at apply; so only a "not found" makes a stream missing.
 */
async function confirmMissing(
  jsm: JetStreamManager,
  names: string[],
  server: Map<string, StreamInfo>,
) {
  for (const name of names) {
    if (server.has(name)) continue;
    try {
      server.set(name, await jsm.streams.info(name));
    } catch (err) {
      if (isStreamNotFound(err)) continue;
      throw new Error(
        `stream ${name} is not in the server's listing but did not answer either ` +
          `(${(err as Error).message}): its leader may be down or being elected; try again in ` +
          "a few seconds (jetport status shows the stream's replicas)",
      );
    }
  }
}

/** Consumers must name a stream that is declared or already on the server, and fit its subjects. */
function checkConsumerStreams(
  cfg: ProvisionerConfig,
  declared: Map<string, StreamDecl>,
  server: Map<string, StreamInfo>,
) {
  const problems: string[] = [];
  for (const c of cfg.consumers) {
    if (declared.has(c.stream)) continue; // validate checked its filters already
    const info = server.get(c.stream);
    if (!info) {
      problems.push(
        `consumer ${c.stream}/${c.name}: stream ${c.stream} is neither declared under streams nor ` +
          "present on the server; declare it or fix the consumer's stream",
      );
      continue;
    }
    for (const f of [c.filter_subject, ...(c.filter_subjects ?? [])]) {
      if (f && !info.config.subjects?.some((s) => subjectsOverlap(s, f))) {
        problems.push(
          `consumer ${c.stream}/${c.name}: filter subject "${f}" is outside the subjects of ` +
            `stream ${c.stream} (${info.config.subjects?.join(", ")})`,
        );
      }
    }
  }
  if (problems.length > 0) throw new ProvisionError("INVALID_DECLARATION", problems);
}

/**
 * The item for an object on the server whose config differs by `changes`: unchanged, an update,
 * or, when the server cannot make a change in place, destructive by recreation, losing `loss()`.
 */
function judged<B extends object>(base: B, changes: Change[], loss: () => string) {
  if (changes.length === 0) {
    return { ...base, action: "unchanged" as const, changes, recreate: false };
  }
  if (changes.some((c) => c.fixed)) {
    return { ...base, action: "destructive" as const, changes, recreate: true, loss: loss() };
  }
  return { ...base, action: "update" as const, changes, recreate: false };
}

async function planStream(
  jsm: JetStreamManager,
  decl: StreamDecl,
  actual: StreamInfo | undefined,
): Promise<PlanItem> {
  const base = { type: "stream" as const, id: decl.name, decl, actual };
  if (!actual) return { ...base, action: "create", changes: [], recreate: false };
  const item = judged(
    base,
    diffDeclared({ type: "stream", decl, config: actual.config }),
    () =>
      `recreating stream ${decl.name} deletes its ${actual.state.messages} stored message(s) and ` +
      "its consumers",
  );
  if (item.action !== "update") return item;
  // In place, but a subject removed from the list may leave stored messages unreachable.
  const orphans = await orphanedMessages(jsm, decl, actual);
  if (orphans.count === 0) return item;
  const subjects = item.changes.find((c) => c.field === "subjects")!;
  subjects.fixed = `removing ${orphans.subjects.join(", ")} orphans ${orphans.count} stored ` +
    "message(s) that no subject of the stream would match any more";
  return {
    ...item,
    action: "destructive",
    loss: `${orphans.count} stored message(s) on ${orphans.subjects.join(", ")} become orphaned`,
  };
}

/** Stored messages on subjects the new subject list no longer covers. */
async function orphanedMessages(
  jsm: JetStreamManager,
  decl: StreamDecl,
  actual: StreamInfo,
): Promise<{ count: number; subjects: string[] }> {
  const removed = (actual.config.subjects ?? []).filter((s) =>
    !decl.subjects.some((d) => subjectCovers(d, s))
  );
  let count = 0;
  const subjects: string[] = [];
  if (actual.state.messages === 0) return { count, subjects };
  for (const r of removed) {
    const info = await jsm.streams.info(decl.name, { subjects_filter: r });
    let n = 0;
    for (const [subject, msgs] of Object.entries(info.state.subjects ?? {})) {
      if (!decl.subjects.some((d) => subjectMatches(d, subject))) n += msgs;
    }
    if (n > 0) {
      count += n;
      subjects.push(r);
    }
  }
  return { count, subjects };
}

/** The plan of a KV or Object Store bucket: the stream behind it, compared as the bucket. */
function planBucket(
  declared:
    | { type: "kv"; decl: KvDecl }
    | { type: "object_store"; decl: ObjectStoreDecl },
  actual: StreamInfo | undefined,
): PlanItem {
  const base = { ...declared, id: declared.decl.bucket, actual };
  if (!actual) return { ...base, action: "create", changes: [], recreate: false };
  const config = actual.config;
  const changes = declared.type === "kv"
    ? diffDeclared({ type: "kv", decl: declared.decl, config })
    : diffDeclared({ type: "object_store", decl: declared.decl, config });
  return judged(
    base,
    changes,
    () =>
      `recreating bucket ${declared.decl.bucket} deletes its ${actual.state.messages} stored ` +
      (declared.type === "kv" ? "value(s)" : "message(s) (object chunks and metadata)"),
  );
}

function planConsumer(decl: ConsumerDecl, actual: ConsumerInfo | undefined): PlanItem {
  const id = `${decl.stream}/${decl.name}`;
  const base = { type: "consumer" as const, id, decl, actual };
  if (!actual) return { ...base, action: "create", changes: [], recreate: false };
  return judged(
    base,
    diffDeclared({ type: "consumer", decl, config: actual.config }),
    () =>
      `recreating consumer ${id} loses its position (${actual.num_pending} pending, ` +
      `${actual.num_ack_pending} awaiting ack); it restarts from its deliver policy`,
  );
}

async function extras(
  jsm: JetStreamManager,
  cfg: ProvisionerConfig,
  server: Map<string, StreamInfo>,
  options: PlanOptions,
): Promise<Extra[]> {
  const out: Extra[] = [];
  const streams = new Set(cfg.streams.map((s) => s.name));
  const buckets = new Set(cfg.kv.map((k) => k.bucket));
  const objects = new Set(cfg.object_stores.map((o) => o.bucket));
  for (const name of [...server.keys()].sort()) {
    if (streams.has(name)) continue;
    if (name.startsWith(KV_PREFIX)) {
      const bucket = name.slice(KV_PREFIX.length);
      if (!buckets.has(bucket)) out.push({ type: "kv", id: bucket, note: options.owners?.[name] });
      continue;
    }
    if (name.startsWith(OBJ_PREFIX)) {
      const bucket = name.slice(OBJ_PREFIX.length);
      if (!objects.has(bucket)) out.push({ type: "object_store", id: bucket });
      continue;
    }
    out.push({ type: "stream", id: name, note: options.owners?.[name] });
  }
  const declared = new Set(cfg.consumers.map((c) => `${c.stream}/${c.name}`));
  for (const name of [...streams].sort()) {
    if (!server.has(name)) continue;
    for (const c of await collect<ConsumerInfo>(jsm.consumers.list(name))) {
      // Ephemeral consumers come and go with their clients: not configuration.
      if (!c.config.durable_name || declared.has(`${name}/${c.name}`)) continue;
      out.push({ type: "consumer", id: `${name}/${c.name}` });
    }
  }
  return out;
}

const LABEL: Record<PlanItem["type"], string> = {
  stream: "stream",
  consumer: "consumer",
  kv: "kv",
  object_store: "object_store",
};

/** The plan as text: one block per object, then unmanaged extras, then a summary line. */
export function formatPlan(plan: Plan): string {
  const lines: string[] = [];
  for (const item of plan.items) {
    const head = `${LABEL[item.type]} ${item.id}`;
    switch (item.action) {
      case "create":
        lines.push(`${head}: create`);
        break;
      case "unchanged":
        lines.push(`${head}: unchanged`);
        break;
      case "update":
        lines.push(`${head}: update`);
        for (const c of item.changes) lines.push(updateLine(c));
        break;
      case "destructive":
        lines.push(`${head}: DESTRUCTIVE (${item.loss}; needs --allow-destructive)`);
        for (const c of item.changes) {
          lines.push(
            c.fixed ? `  destructive ${formatChange(c)} (${c.fixed})` : updateLine(c),
          );
        }
        break;
    }
  }
  for (const e of plan.extras) {
    lines.push(
      `unmanaged ${e.type} ${e.id}: on the server, not declared; left alone` +
        (e.note ? ` (${e.note})` : ""),
    );
  }
  lines.push(summary(plan));
  return lines.join("\n");
}

/** `  update allow_msg_ttl: false → true (IRREVERSIBLE: …)` */
function updateLine(c: Change): string {
  return `  update ${formatChange(c)}` +
    (c.irreversible ? ` (IRREVERSIBLE: ${c.irreversible})` : "");
}

/** `Plan: 1 to create, 2 to update, 0 destructive, 5 unchanged, 1 unmanaged (server 2.10.27).` */
export function summary(plan: Plan): string {
  const n = (a: Action) => plan.items.filter((i) => i.action === a).length;
  return `Plan: ${n("create")} to create, ${n("update")} to update, ${n("destructive")} ` +
    `destructive, ${n("unchanged")} unchanged, ${plan.extras.length} unmanaged ` +
    `(nats-server ${plan.serverVersion}` +
    (plan.cluster.name
      ? `, cluster ${plan.cluster.name}` +
        (plan.cluster.size ? ` of ${plan.cluster.size} server(s)` : "")
      : "") +
    ").";
}
