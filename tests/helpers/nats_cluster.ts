/**
 * A three-node JetStream cluster of real `nats-server` processes on loopback, for scale-out and
 * failover tests: kill -9 a node, restart it, find the node that leads a stream.
 *
 * Why readiness is more than "a meta leader exists": every node's `/jsz` names a meta leader about
 * a second after start, but an R3 stream created at that moment can still be refused with "no
 * suitable peers for placement" until the leader has heard from every peer (seen on 2.9.10 on a
 * loaded machine). So a new cluster is handed to a test only once it has placed (created and
 * deleted) an R3 probe stream, and a restarted node only once the meta leader reports it current
 * (docs/nats-notes.md "Clusters"). No test ever needs to repeat a cluster start.
 * @module
 */
import { connect } from "@nats-io/transport-node";
import { type JetStreamManager, jetstreamManager } from "@nats-io/jetstream";
import { delay } from "../../src/platform/delay.ts";
import { freePort, natsServerBin, natsServerVersion } from "./nats_server.ts";
import { waitFor } from "./assert.ts";

/** One node of the cluster. */
export interface ClusterNode {
  /** `server_name`, e.g. `n1`. */
  name: string;
  /** Client port. */
  port: number;
  /** Monitoring port. */
  monitorPort: number;
  /** Client URL. */
  url: string;
  /** True while the process runs. */
  running: boolean;
}

/** A running cluster. */
export interface NatsCluster extends AsyncDisposable {
  /** The nodes. */
  nodes: ClusterNode[];
  /** Client URLs of every node. */
  urls: string[];
  /** The server version. */
  version: string;
  /** Kills node `name` with SIGKILL. */
  kill(name: string): Promise<void>;
  /** Starts node `name` again with its store. */
  restart(name: string): Promise<void>;
  /** The `server_name` of the node leading `stream` (asks the running nodes). */
  streamLeader(stream: string, account?: string): Promise<string | undefined>;
  /**
   * Waits until every running node names the same meta leader and that leader reports every other
   * running node current (what a restarted node needs before it takes replicas again).
   */
  waitReady(timeoutMs?: number): Promise<void>;
  /** Stops every node and removes the stores. */
  close(): Promise<void>;
}

interface Proc {
  node: ClusterNode;
  conf: string;
  child?: Deno.ChildProcess;
}

async function json<T>(url: string): Promise<T | undefined> {
  try {
    const res = await fetch(url);
    if (!res.ok) {
      await res.body?.cancel();
      return undefined;
    }
    return await res.json() as T;
  } catch {
    return undefined;
  }
}

/**
 * Killing a node with -9 can make the nats.js socket of the test's own client throw `write EBADF`
 * (or EPIPE/ECONNRESET) from a callback nobody awaits; the client reconnects by itself, so such
 * errors are logged, not fatal to the test file. Anything else still fails the test.
 */
function toleratePeerSocketErrors(): () => void {
  const onError = (event: ErrorEvent) => {
    const message = String(event.error?.message ?? event.message);
    if (!/EBADF|EPIPE|ECONNRESET/.test(message)) return;
    event.preventDefault();
    console.error(`(cluster test) socket error after a node kill, client reconnects: ${message}`);
  };
  globalThis.addEventListener("error", onError);
  return () => globalThis.removeEventListener("error", onError);
}

/** What a node's `/jsz` says about the meta group (the leader lists its followers). */
interface MetaCluster {
  leader?: string;
  replicas?: { name: string; current: boolean }[];
}

/**
 * True when every running node names the same meta leader, and that leader reports every other
 * running node as a current follower.
 */
async function metaGroupFormed(running: ClusterNode[]): Promise<boolean> {
  const metas = await Promise.all(
    running.map((n) =>
      json<{ meta_cluster?: MetaCluster }>(`http://127.0.0.1:${n.monitorPort}/jsz`)
        .then((j) => j?.meta_cluster)
    ),
  );
  const leader = metas[0]?.leader;
  if (!leader || metas.some((m) => m?.leader !== leader)) return false;
  const leaderMeta = metas[running.findIndex((n) => n.name === leader)];
  if (!leaderMeta) return false; // the named leader is not among the running nodes
  return running.every((n) =>
    n.name === leader || leaderMeta.replicas?.some((r) => r.name === n.name && r.current)
  );
}

/**
 * Creates and deletes a probe stream with `replicas` replicas, retrying until `until` (ms since
 * epoch): the proof that the cluster can place a replicated asset, whatever its `/jsz` says.
 */
async function placeProbe(urls: string[], replicas: number, until: number): Promise<void> {
  const nc = await connect({ servers: urls, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
  try {
    const jsm = await jetstreamManager(nc, { timeout: 5000 });
    const name = "JETPORT_HARNESS_PROBE";
    let last: unknown;
    while (Date.now() < until) {
      try {
        await jsm.streams.add({
          name,
          subjects: ["_jetport_harness.probe"],
          num_replicas: replicas,
        });
        await jsm.streams.delete(name);
        return;
      } catch (err) {
        last = err; // "no suitable peers for placement", a timeout during an election, ...
        await delay(250);
      }
    }
    throw new Error(`cluster cannot place an R${replicas} stream: ${last}`);
  } finally {
    await nc.close();
  }
}

/**
 * Starts a cluster of `size` nodes (three by default) and returns once it can place a stream
 * with `min(size, 3)` replicas.
 */
export async function startNatsCluster(size = 3): Promise<NatsCluster> {
  const bin = natsServerBin();
  const dir = await Deno.makeTempDir({ prefix: "jetport-cluster-" });
  const clusterPorts = Array.from({ length: size }, () => freePort());
  const procs: Proc[] = [];
  for (let i = 0; i < size; i++) {
    const name = `n${i + 1}`;
    const port = freePort();
    const monitorPort = freePort();
    const conf = `${dir}/${name}.conf`;
    await Deno.writeTextFile(
      conf,
      `server_name: ${name}
listen: 127.0.0.1:${port}
http: 127.0.0.1:${monitorPort}
jetstream { store_dir: "${dir}/${name}" }
cluster {
  name: jetport-test
  listen: 127.0.0.1:${clusterPorts[i]}
  routes: [${clusterPorts.map((p) => `nats-route://127.0.0.1:${p}`).join(", ")}]
}
`,
    );
    procs.push({
      node: { name, port, monitorPort, url: `nats://127.0.0.1:${port}`, running: false },
      conf,
    });
  }
  const version = await natsServerVersion(bin);

  const spawn = (p: Proc) => {
    p.child = new Deno.Command(bin, {
      args: ["-c", p.conf, "-l", `${dir}/${p.node.name}.log`],
      stdout: "null",
      stderr: "null",
    }).spawn();
    p.node.running = true;
  };
  const halt = async (p: Proc, signal: Deno.Signal) => {
    if (!p.child) return;
    try {
      p.child.kill(signal);
    } catch { /* gone */ }
    await p.child.status;
    p.child = undefined;
    p.node.running = false;
  };
  const byName = (name: string) => {
    const p = procs.find((x) => x.node.name === name);
    if (!p) throw new Error(`no node ${name}`);
    return p;
  };

  const waitReady = async (timeoutMs = 60_000) => {
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
      if (await metaGroupFormed(procs.filter((p) => p.node.running).map((p) => p.node))) return;
      await delay(100);
    }
    throw new Error("cluster meta group did not form: no common leader hearing from every node");
  };

  procs.forEach(spawn);
  try {
    await waitReady();
    await placeProbe(procs.map((p) => p.node.url), Math.min(size, 3), Date.now() + 60_000);
  } catch (err) {
    await Promise.all(procs.map((p) => halt(p, "SIGKILL")));
    // The store and the node logs stay for whoever reads the failure.
    throw new Error(`${err instanceof Error ? err.message : err} (node logs: ${dir}/n*.log)`);
  }

  const untolerate = toleratePeerSocketErrors();
  const close = async () => {
    untolerate();
    await Promise.all(procs.map((p) => halt(p, "SIGTERM")));
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  return {
    nodes: procs.map((p) => p.node),
    urls: procs.map((p) => p.node.url),
    version,
    kill: (name) => halt(byName(name), "SIGKILL"),
    restart: async (name) => {
      spawn(byName(name));
      await waitReady();
    },
    async streamLeader(stream, account = "$G") {
      for (const p of procs.filter((x) => x.node.running)) {
        const jsz = await json<{
          account_details?: {
            name: string;
            stream_detail?: { name: string; cluster?: { leader?: string } }[];
          }[];
        }>(`http://127.0.0.1:${p.node.monitorPort}/jsz?streams=true`);
        for (const acc of jsz?.account_details ?? []) {
          if (acc.name !== account) continue;
          const s = acc.stream_detail?.find((d) => d.name === stream);
          if (s?.cluster?.leader) return s.cluster.leader;
        }
      }
      return undefined;
    },
    waitReady,
    close,
    [Symbol.asyncDispose]: close,
  };
}

/**
 * Waits until stream `name` (R`replicas`) has a leader and every other replica is current. Its
 * group is not whole right after it was created or a node restarted: a request that needs it (a
 * consumer added to a stream just created) went unanswered for the whole 5 s request timeout on
 * 2.15.1, and killing the leader before a restarted replica was current left the stream without a
 * leader for 30 s on 2.9.10. Resolves with the leader's name.
 */
export async function streamSettled(
  jsm: JetStreamManager,
  name: string,
  replicas = 3,
): Promise<string> {
  return await waitFor(
    async () => {
      const cluster = (await jsm.streams.info(name)).cluster;
      const others = cluster?.replicas ?? [];
      const whole = cluster?.leader !== undefined && others.length === replicas - 1 &&
        others.every((r) => r.current && !r.offline);
      return whole ? cluster.leader : undefined;
    },
    30_000,
    `stream ${name}: a leader and ${replicas - 1} current replicas`,
  );
}

/**
 * {@link streamSettled} for a test without a connection of its own: connects to `cluster`, waits
 * until stream `name` has a leader and current replicas, and resolves with the leader's name.
 */
export async function settledStreamLeader(cluster: NatsCluster, name: string): Promise<string> {
  const nc = await connect({ servers: cluster.urls });
  try {
    return await streamSettled(await jetstreamManager(nc), name);
  } finally {
    await nc.close();
  }
}
