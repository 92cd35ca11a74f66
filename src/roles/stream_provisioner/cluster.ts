/**
 * How many servers can hold a replica, as far as a client can tell, and the declarations that ask
 * for more: `plan` refuses them with a clear reason instead of letting the server answer "no
 * suitable peers for placement" (or, on a single server, "replicas > 1 not supported in
 * non-clustered mode") halfway through an apply.
 *
 * The size comes from the JetStream meta group when the user may ask it (system account, see
 * `meta.ts`): that counts every server of the cluster. Otherwise from what any account sees, on
 * 2.9 and later alike: the servers answering an account ping now, the connected server's INFO
 * (`connect_urls`: every server routed to it at connect time, itself included), and the info of an
 * existing replicated stream (all of its peers, down ones too). The largest of these is a lower
 * bound of the cluster's size; while a node is down it may shrink, which is also when the server
 * would refuse to place a new replica on it.
 * @module
 */
import type { ServerInfo } from "@nats-io/nats-core";
import type { StreamInfo } from "@nats-io/jetstream";
import type { ProvisionerConfig } from "./config.ts";
import type { MetaView } from "./meta.ts";

/** What the connected server says about its cluster. */
export interface ClusterView {
  /** The cluster's name; undefined when the server is not clustered. */
  name?: string;
  /** The connected server's name (or id). */
  server: string;
  /** Servers known to exist (see the module doc); undefined when the cluster announces none. */
  size?: number;
  /** How `size` was found, in words. */
  source: string;
}

/**
 * The cluster as seen through `info` (the connected server's INFO), the existing streams and, when
 * asked, the servers themselves (`meta`).
 */
export function clusterView(
  info: ServerInfo | undefined,
  streams: StreamInfo[],
  meta: MetaView = { servers: [] },
): ClusterView {
  const server = info?.server_name || info?.server_id || "the server";
  if (!info?.cluster) return { server, size: 1, source: `${server} is not clustered` };
  const name = info.cluster;
  if (meta.metaSize) {
    return {
      name,
      server,
      size: meta.metaSize,
      source: `the JetStream meta group of cluster ${name} has ${meta.metaSize} server(s)`,
    };
  }
  const urls = new Set(info.connect_urls ?? []).size;
  const peers = Math.max(
    0,
    ...streams.map((s) => (s.cluster?.leader ? 1 : 0) + (s.cluster?.replicas?.length ?? 0)),
  );
  const answered = meta.servers.length;
  const size = Math.max(urls, peers, answered);
  if (size === 0) {
    // `cluster { no_advertise: true }` hides the URLs; without a replicated stream we cannot tell.
    return { name, server, source: "the cluster announces no servers" };
  }
  const source = answered === size
    ? `${answered} server(s) of cluster ${name} answered (${meta.servers.join(", ")})`
    : urls === size
    ? `${server} announces ${urls} server(s) in cluster ${name}`
    : `an existing stream has ${peers} peers in cluster ${name}`;
  return { name, server, size, source };
}

/** One line per declared stream, bucket or consumer whose replicas or placement cannot fit. */
export function placementProblems(cfg: ProvisionerConfig, view: ClusterView): string[] {
  const problems: string[] = [];
  const check = (object: string, replicas: number | undefined, cluster?: string) => {
    if (cluster && view.name && cluster !== view.name) {
      problems.push(
        `${object}: placement.cluster is "${cluster}" but ${view.server} is in cluster ` +
          `"${view.name}"; fix the name (a supercluster's other clusters are not visible from ` +
          "here, so connect to a server of that cluster to provision it)",
      );
    }
    if (replicas === undefined || replicas <= 1 || view.size === undefined) return;
    if (!view.name) {
      problems.push(
        `${object}: replicas ${replicas} needs a JetStream cluster, but ${view.source}; ` +
          "a single server refuses replicas > 1. Use replicas: 1 here, or point nats.servers " +
          "at a cluster",
      );
    } else if (replicas > view.size) {
      problems.push(
        `${object}: replicas ${replicas} is more than the ${view.size} server(s) known ` +
          `(${view.source}); the server cannot place it. Use replicas: ${oddAtMost(view.size)}, ` +
          "add servers, or start the ones that are down",
      );
    }
  };
  for (const s of cfg.streams) check(`stream ${s.name}`, s.replicas, s.placement?.cluster);
  for (const k of cfg.kv) check(`kv ${k.bucket}`, k.replicas, k.placement?.cluster);
  for (const o of cfg.object_stores) {
    check(`object_store ${o.bucket}`, o.replicas, o.placement?.cluster);
  }
  for (const c of cfg.consumers) check(`consumer ${c.stream}/${c.name}`, c.replicas);
  return problems;
}

/** The largest odd replica count up to `n` (a quorum of an even count tolerates no more loss). */
function oddAtMost(n: number): number {
  return n % 2 === 1 ? n : Math.max(1, n - 1);
}
