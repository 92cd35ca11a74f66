/**
 * What the servers themselves say about the cluster's size, asked over NATS, for `plan`'s
 * placement check (see `cluster.ts`). The connected server's INFO lists only the servers routed to
 * it at connect time: right after a cluster starts it can name 2 of 3 and `plan` would refuse
 * replicas 3. Two questions reach further:
 *
 * - `$SYS.REQ.SERVER.PING.JSZ` (answered for users of the system account only): each server's
 *   view of the JetStream meta group, whose `cluster_size` counts every peer, down ones too. When
 *   it answers, it is the cluster's size.
 * - `$SYS.REQ.ACCOUNT.PING.STATZ` with `include_unused` (any account, 2.9 and later): every server
 *   that can be reached answers once, naming its cluster; a lower bound, like INFO, but asked now.
 * @module
 */
import type { NatsConnection } from "@nats-io/nats-core";

/** What the servers answered; fields are absent when nobody answered that question. */
export interface MetaView {
  /** The meta group's `cluster_size` (system account only). */
  metaSize?: number;
  /** Names of the servers of the connected cluster that answered the account ping. */
  servers: string[];
}

/** How long to wait for more answers after the last one (servers answer within milliseconds). */
const STALL_MS = 500;
/** The longest any one question may take. */
const MAX_WAIT_MS = 3000;

interface Reply {
  server?: { name?: string; cluster?: string };
  data?: { meta_cluster?: { cluster_size?: number } };
}

/** Every reply to a ping of `subject`; none when nobody may answer (no responders). */
async function ping(nc: NatsConnection, subject: string, body: string): Promise<Reply[]> {
  const out: Reply[] = [];
  try {
    const replies = await nc.requestMany(subject, body, {
      strategy: "stall",
      stall: STALL_MS,
      maxWait: MAX_WAIT_MS,
    });
    for await (const m of replies) out.push(m.json<Reply>());
  } catch {
    // No responders (not the system account) or a reply that is not JSON: no answer to count.
  }
  return out;
}

/** Asks the servers of `cluster` (the connected server's cluster name) about its size. */
export async function readMeta(nc: NatsConnection, cluster: string): Promise<MetaView> {
  const inCluster = (r: Reply) => r.server?.cluster === cluster;
  const [jsz, statz] = await Promise.all([
    ping(nc, "$SYS.REQ.SERVER.PING.JSZ", ""),
    ping(nc, "$SYS.REQ.ACCOUNT.PING.STATZ", JSON.stringify({ include_unused: true })),
  ]);
  const sizes = jsz.filter(inCluster).map((r) => r.data?.meta_cluster?.cluster_size ?? 0);
  const metaSize = Math.max(0, ...sizes);
  return {
    metaSize: metaSize > 0 ? metaSize : undefined,
    servers: [...new Set(statz.filter(inCluster).map((r) => r.server?.name ?? ""))].filter((n) => n)
      .sort(),
  };
}
