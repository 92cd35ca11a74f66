/**
 * `jetport status`: streams (size, sequences, replicas), their consumers (pending, ack pending,
 * redelivered, last delivery, lag) and the dead-letter queue's depth by source. Read-only; works
 * on streams nobody declared too.
 * @module
 */
import type { ConsumerInfo, JetStreamManager, MsgRequest, StreamInfo } from "@nats-io/jetstream";
import type { Config } from "../schemas.ts";
import { formatDuration, formatSize } from "../../config/units.ts";
import { collect } from "./plan.ts";
import { type StreamHealth, streamHealth } from "./health.ts";
import { isStreamNotFound, isTransient } from "../../nats/errors.ts";

/** A consumer's state. */
export interface ConsumerStatus {
  name: string;
  /** Declared under roles.stream_provisioner.consumers. */
  declared: boolean;
  /** False when declared but missing on the server (the numbers are then 0). */
  exists: boolean;
  /** `pull` or `push`. */
  kind: "pull" | "push";
  filter_subjects: string[];
  num_pending: number;
  num_ack_pending: number;
  num_redelivered: number;
  num_waiting: number;
  /** Stream sequence of the last delivered message. */
  delivered_seq: number;
  /** Stream sequence below which everything is acknowledged. */
  ack_floor_seq: number;
  /** When the last message was delivered (ISO), or null. */
  last_delivery: string | null;
  /** Lag: messages not delivered yet, and how long the oldest of them has waited. */
  lag: {
    messages: number;
    oldest_pending_seq: number | null;
    oldest_pending_age_ms: number | null;
  };
}

/** A stream's state. */
export interface StreamStatus {
  name: string;
  declared: boolean;
  /** False when the server has no such stream, or when it did not answer (see `unavailable`). */
  exists: boolean;
  /** Why the stream's info could not be read (no leader, a timeout), when it could not. */
  unavailable?: string;
  /**
   * True when the stream did not answer, or (clustered) a replica is missing, offline, not current
   * or not heard from; `degraded_reasons` says which.
   */
  degraded: boolean;
  /** One line per reason the stream is degraded. */
  degraded_reasons: string[];
  subjects: string[];
  retention: string;
  storage: string;
  messages: number;
  bytes: number;
  first_seq: number;
  last_seq: number;
  /** Time of the last message (ISO), or null when empty. */
  last_ts: string | null;
  consumer_count: number;
  replicas: number;
  /** Clustered streams: the leader and each replica's state (none on a single server). */
  cluster?: Omit<StreamHealth, "degraded" | "problems">;
  consumers: ConsumerStatus[];
}

/** The dead-letter stream's depth (when roles.dlq_redriver is configured). */
export interface DlqStatus {
  stream: string;
  exists: boolean;
  messages: number;
  /** Depth per source (`STREAM/CONSUMER`), from the subjects `<prefix>.<stream>.<consumer>`. */
  by_source: { source: string; subject: string; messages: number }[];
}

/** Everything `status` shows. */
export interface StatusReport {
  server_version: string;
  streams: StreamStatus[];
  dlq?: DlqStatus;
}

const EMPTY_CONSUMER = {
  num_pending: 0,
  num_ack_pending: 0,
  num_redelivered: 0,
  num_waiting: 0,
  delivered_seq: 0,
  ack_floor_seq: 0,
  last_delivery: null,
  lag: { messages: 0, oldest_pending_seq: null, oldest_pending_age_ms: null },
};

/**
 * The stream's info; `missing` when the server has no such stream; `unavailable` when no answer.
 */
async function streamInfo(
  jsm: JetStreamManager,
  name: string,
): Promise<{ info: StreamInfo } | { missing: true } | { unavailable: string }> {
  try {
    return { info: await jsm.streams.info(name) };
  } catch (err) {
    if (isStreamNotFound(err)) return { missing: true };
    if (!isTransient(err)) throw err;
    // In a cluster the stream's leader answers; while it is down and a new one is elected, nobody.
    return {
      unavailable: `no answer from the stream's leader (${(err as Error).message}); a server ` +
        "may be down or a leader election running",
    };
  }
}

/** Collects the status of `streams` (default: the declared ones, else every stream). */
export async function collectStatus(
  jsm: JetStreamManager,
  config: Config,
  options: { streams?: string[]; serverVersion: string; now?: number },
): Promise<StatusReport> {
  const cfg = config.roles.stream_provisioner;
  const declaredStreams = new Set(cfg?.streams.map((s) => s.name) ?? []);
  let names = options.streams?.length ? options.streams : [...declaredStreams];
  if (names.length === 0) names = await collect<string>(jsm.streams.names());
  const now = options.now ?? Date.now();

  const streams: StreamStatus[] = [];
  for (const name of names) {
    const found = await streamInfo(jsm, name);
    const declaredConsumers = (cfg?.consumers ?? []).filter((c) => c.stream === name)
      .map((c) => c.name);
    if (!("info" in found)) {
      const unavailable = "unavailable" in found ? found.unavailable : undefined;
      streams.push({
        name,
        declared: declaredStreams.has(name),
        exists: false,
        ...(unavailable ? { unavailable } : {}),
        degraded: unavailable !== undefined,
        degraded_reasons: unavailable ? [unavailable] : [],
        subjects: [],
        retention: "",
        storage: "",
        messages: 0,
        bytes: 0,
        first_seq: 0,
        last_seq: 0,
        last_ts: null,
        consumer_count: 0,
        replicas: 0,
        consumers: declaredConsumers.map((c) => missingConsumer(c)),
      });
      continue;
    }
    const { info } = found;
    const consumers: ConsumerStatus[] = [];
    const onServer = await collect<ConsumerInfo>(jsm.consumers.list(name));
    for (const c of onServer.sort((a, b) => (a.name < b.name ? -1 : 1))) {
      consumers.push(await consumerStatus(jsm, c, declaredConsumers.includes(c.name), now));
    }
    for (const c of declaredConsumers) {
      if (!onServer.some((s) => s.name === c)) consumers.push(missingConsumer(c));
    }
    const health = streamHealth(info);
    streams.push({
      name,
      declared: declaredStreams.has(name),
      exists: true,
      degraded: health?.degraded ?? false,
      degraded_reasons: health?.problems ?? [],
      subjects: info.config.subjects ?? [],
      retention: info.config.retention,
      storage: info.config.storage,
      messages: info.state.messages,
      bytes: info.state.bytes,
      first_seq: info.state.first_seq,
      last_seq: info.state.last_seq,
      last_ts: info.state.messages > 0 ? info.state.last_ts : null,
      consumer_count: info.state.consumer_count,
      replicas: info.config.num_replicas,
      cluster: health &&
        { name: health.name, leader: health.leader, replicas: health.replicas },
      consumers,
    });
  }
  const report: StatusReport = { server_version: options.serverVersion, streams };
  const dlq = config.roles.dlq_redriver;
  if (dlq && dlq.enabled) report.dlq = await dlqStatus(jsm, dlq.dlq_stream, dlq.subject_prefix);
  return report;
}

function missingConsumer(name: string): ConsumerStatus {
  return {
    name,
    declared: true,
    exists: false,
    kind: "pull",
    filter_subjects: [],
    ...EMPTY_CONSUMER,
  };
}

async function consumerStatus(
  jsm: JetStreamManager,
  c: ConsumerInfo,
  declared: boolean,
  now: number,
): Promise<ConsumerStatus> {
  const filters = c.config.filter_subjects?.length
    ? c.config.filter_subjects
    : c.config.filter_subject
    ? [c.config.filter_subject]
    : [];
  const oldest = c.num_pending > 0
    ? await firstMessageFrom(jsm, c.stream_name, c.delivered.stream_seq + 1, filters)
    : undefined;
  return {
    name: c.name,
    declared,
    exists: true,
    kind: c.config.deliver_subject ? "push" : "pull",
    filter_subjects: filters,
    num_pending: c.num_pending,
    num_ack_pending: c.num_ack_pending,
    num_redelivered: c.num_redelivered,
    num_waiting: c.num_waiting,
    delivered_seq: c.delivered.stream_seq,
    ack_floor_seq: c.ack_floor.stream_seq,
    last_delivery: lastActive(c.delivered),
    lag: {
      messages: c.num_pending,
      oldest_pending_seq: oldest?.seq ?? null,
      oldest_pending_age_ms: oldest ? Math.max(0, now - oldest.time) : null,
    },
  };
}

/** The server sends an RFC 3339 time as `last_active`, whatever the client's type says. */
function lastActive(delivered: object): string | null {
  const t = (delivered as { last_active?: unknown }).last_active;
  return typeof t === "string" ? t : null;
}

/** The first message at or after `seq` on any of `filters` (any subject when none). */
async function firstMessageFrom(
  jsm: JetStreamManager,
  stream: string,
  seq: number,
  filters: string[],
): Promise<{ seq: number; time: number } | undefined> {
  let best: { seq: number; time: number } | undefined;
  for (const subject of filters.length ? filters : [">"]) {
    // The MSG.GET API takes next_by_subj (2.9+); the client's type only lists seq/last_by_subj.
    const query: MsgRequest & { next_by_subj: string } = { seq, next_by_subj: subject };
    const m = await jsm.streams.getMessage(stream, query).catch(() => null);
    if (m && (!best || m.seq < best.seq)) best = { seq: m.seq, time: m.time.getTime() };
  }
  return best;
}

async function dlqStatus(
  jsm: JetStreamManager,
  stream: string,
  prefix: string,
): Promise<DlqStatus> {
  let info: StreamInfo | undefined;
  try {
    info = await jsm.streams.info(stream, { subjects_filter: `${prefix}.>` });
  } catch {
    info = undefined;
  }
  if (!info) return { stream, exists: false, messages: 0, by_source: [] };
  const by_source = Object.entries(info.state.subjects ?? {}).sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([subject, messages]) => ({
      source: subject.slice(prefix.length + 1).replace(".", "/"),
      subject,
      messages,
    }));
  return { stream, exists: true, messages: info.state.messages, by_source };
}

/** The report as text for people. */
export function formatStatus(r: StatusReport): string {
  const lines: string[] = [`nats-server ${r.server_version}`];
  for (const s of r.streams) {
    const tag = s.declared ? "" : " (not declared)";
    if (s.unavailable) {
      lines.push(`stream ${s.name}${tag}: NO ANSWER: ${s.unavailable}`);
    } else if (!s.exists) {
      lines.push(`stream ${s.name}${tag}: MISSING on the server`);
    } else {
      lines.push(
        `stream ${s.name}${tag}: ${s.messages} msgs, ${formatSize(s.bytes)}, ` +
          `seq ${s.first_seq}..${s.last_seq}, ${s.consumer_count} consumer(s), ` +
          `${s.retention}/${s.storage}, subjects ${s.subjects.join(", ")}`,
      );
    }
    if (s.cluster) {
      const reps = s.cluster.replicas.map((p) =>
        `${p.name}${p.leader ? " (leader)" : ""}${p.offline ? " OFFLINE" : ""}` +
        (p.leader ? "" : `${p.current ? " current" : ` behind by ${p.lag}`}, seen ` +
          `${formatDuration(p.active_ms ?? 0)} ago`)
      );
      lines.push(
        `  cluster ${s.cluster.name}, ${s.replicas} replica(s): ${reps.join("; ") || "none"}`,
      );
    }
    if (s.exists && s.degraded) lines.push(`  DEGRADED: ${s.degraded_reasons.join("; ")}`);
    for (const c of s.consumers) {
      if (!c.exists) {
        lines.push(`  consumer ${c.name}: MISSING on the server`);
        continue;
      }
      const age = c.lag.oldest_pending_age_ms === null
        ? ""
        : `, oldest pending ${
          formatDuration(c.lag.oldest_pending_age_ms)
        } old (seq ${c.lag.oldest_pending_seq})`;
      lines.push(
        `  consumer ${c.name}${c.declared ? "" : " (not declared)"} [${c.kind}]: ` +
          `lag ${c.lag.messages}${age}, ack pending ${c.num_ack_pending}, ` +
          `redelivered ${c.num_redelivered}, last delivery ${c.last_delivery ?? "never"}`,
      );
    }
  }
  if (r.dlq) {
    if (!r.dlq.exists) lines.push(`dlq ${r.dlq.stream}: not created yet (0 dead letters)`);
    else {
      lines.push(`dlq ${r.dlq.stream}: ${r.dlq.messages} dead letter(s)`);
      for (const s of r.dlq.by_source) lines.push(`  ${s.source}: ${s.messages}`);
    }
  }
  return lines.join("\n");
}
