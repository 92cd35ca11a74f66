/**
 * Health of a clustered stream from its stream info: who leads it, each replica's state, and
 * whether it is degraded. Used by `status` (shown) and `provision verify` (fails on it).
 *
 * What the servers report, checked on 2.9.10 and 2.10.27 with a replica killed -9: the dead
 * replica keeps `current: true` for about 10 s (the raft quorum-loss interval) while its
 * `active` (time since the leader last heard from it) grows by a second each second; a healthy
 * replica answers the leader's heartbeat at least once a second. So a replica not heard from for
 * {@link STALE_MS} counts as down before the server itself flips `current`.
 * @module
 */
import type { StreamInfo } from "@nats-io/jetstream";

/** A replica the leader has not heard from for this long (ms) counts as down. */
export const STALE_MS = 5000;

/** One replica of a clustered stream (the leader included). */
export interface ReplicaStatus {
  /** The server's `server_name`. */
  name: string;
  /** True for the stream's leader. */
  leader: boolean;
  /** The server says the replica is up to date (the leader always is). */
  current: boolean;
  /** The server knows the replica's node is offline. */
  offline: boolean;
  /** Milliseconds since the leader last heard from the replica; null for the leader. */
  active_ms: number | null;
  /** Operations the replica is behind the leader. */
  lag: number;
}

/** A clustered stream's leader, replicas and verdict. */
export interface StreamHealth {
  /** The cluster's name. */
  name: string;
  /** The leader's `server_name`, or null while there is none. */
  leader: string | null;
  /** The leader first, then the other replicas. */
  replicas: ReplicaStatus[];
  /** True when a replica is missing, offline, not current or not heard from. */
  degraded: boolean;
  /** Why it is degraded, one line per problem (empty when healthy). */
  problems: string[];
}

/**
 * The health of the stream behind `info`, or undefined on a single server (no cluster name),
 * where a stream has no replicas to lose.
 */
export function streamHealth(info: StreamInfo): StreamHealth | undefined {
  const cluster = info.cluster;
  if (!cluster?.name) return undefined;
  const leader = cluster.leader || null;
  const replicas: ReplicaStatus[] = [];
  if (leader) {
    replicas.push({
      name: leader,
      leader: true,
      current: true,
      offline: false,
      active_ms: null,
      lag: 0,
    });
  }
  for (const r of cluster.replicas ?? []) {
    replicas.push({
      name: r.name,
      leader: false,
      current: r.current,
      offline: r.offline ?? false,
      active_ms: Math.round((r.active ?? 0) / 1_000_000),
      lag: r.lag ?? 0,
    });
  }
  const problems: string[] = [];
  const want = info.config.num_replicas;
  if (!leader) problems.push("no leader (an election is running, or too few servers are up)");
  if (replicas.length < want) {
    problems.push(`${replicas.length} of ${want} replicas placed`);
  }
  for (const r of replicas) {
    if (r.leader) continue;
    if (r.offline) problems.push(`replica ${r.name} is offline`);
    else if (r.active_ms !== null && r.active_ms > STALE_MS) {
      problems.push(`replica ${r.name} not heard from for ${Math.round(r.active_ms / 1000)}s`);
    } else if (!r.current) problems.push(`replica ${r.name} is not current (behind by ${r.lag})`);
  }
  return { name: cluster.name, leader, replicas, degraded: problems.length > 0, problems };
}
