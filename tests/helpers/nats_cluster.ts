/**
 * A three-node JetStream cluster of real `nats-server` processes on loopback, for scale-out and
 * failover tests: kill -9 a node, restart it, find the node that leads a stream.
 * @module
 */
import { freePort, natsServerBin, natsServerVersion } from "./nats_server.ts";

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
  /** Waits until every running node sees a meta leader. */
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

/** Starts a three-node cluster (`size` nodes) and waits until it has a meta leader. */
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

  const waitReady = async (timeoutMs = 30_000) => {
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
      const running = procs.filter((p) => p.node.running);
      const leaders = await Promise.all(
        running.map((p) =>
          json<{ meta_cluster?: { leader?: string } }>(
            `http://127.0.0.1:${p.node.monitorPort}/jsz`,
          ).then((j) => j?.meta_cluster?.leader)
        ),
      );
      if (leaders.every((l) => l)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error("cluster has no meta leader");
  };

  procs.forEach(spawn);
  await waitReady();

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
