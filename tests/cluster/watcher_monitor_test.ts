/**
 * Watcher → monitor on a three-node cluster, through `jetport run` as a user runs it: the
 * provisioner declares `FILES` (and the monitor's consumer) at replicas 3, the watcher publishes
 * one event per new file, the monitor writes the log. 20k files are created while the node
 * leading `FILES` is killed -9 and restarted a few seconds later: every file has exactly one
 * ADDED line in the monitor log, and the daemon is still running afterwards.
 */
import { assert, assertEquals, sleep, waitFor } from "../helpers/assert.ts";
import { settledStreamLeader, startNatsCluster } from "../helpers/nats_cluster.ts";
import { freePort } from "../helpers/nats_server.ts";
import { startDaemon } from "../helpers/jetport.ts";
import { watcherClusterConfig } from "./watcher_config.ts";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";

const FILES = 20_000;
/** Files are created in steps of this many, so the kill lands while events flow. */
const STEP = 500;

/** ADDED lines per file name (the path after the storage root). */
async function addedCounts(log: string, root: string): Promise<Map<string, number>> {
  const text = await Deno.readTextFile(log).catch(() => "");
  const counts = new Map<string, number>();
  for (const m of text.matchAll(/ File ADDED: (.*), Size: /g)) {
    const name = m[1].startsWith(`${root}/`) ? m[1].slice(root.length + 1) : m[1];
    counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  return counts;
}

Deno.test("cluster: 20k files while the FILES leader is killed -9 → every file once in the monitor log", async () => {
  await using cluster = await startNatsCluster();
  const dir = await Deno.makeTempDir({ prefix: "jetport-wm-cluster-" });
  const root = `${dir}/storage`;
  const log = `${dir}/monitor/storage_monitor.log`;
  await Deno.mkdir(root, { recursive: true });
  const httpPort = freePort();
  await using daemon = startDaemon(
    await watcherClusterConfig(cluster, dir, httpPort, { monitor: true }),
  );
  await daemon.waitForLog(/\[watcher\] started/, 60_000);
  await daemon.waitForLog(/\[monitor\] started/, 60_000);
  // The provisioner's apply is retried with backoff when the cluster does not answer yet (the
  // other roles start meanwhile): FILES exists once it has started. Its group then elects a
  // leader (seconds on 2.9 under load).
  await daemon.waitForLog(/\[stream_provisioner\] started/, 120_000);
  const leader = await settledStreamLeader(cluster, "FILES").catch((err) => {
    throw new Error(`${err.message}; daemon log:\n${daemon.logs().slice(-6000)}`);
  });

  const started = performance.now();
  let restart: Promise<void> | undefined;
  for (let i = 0; i < FILES; i++) {
    Deno.writeTextFileSync(`${root}/f${i}.txt`, `file ${i}`);
    if ((i + 1) % STEP !== 0) continue;
    if (i + 1 === FILES / 4) {
      await cluster.kill(leader);
      // Restarted while files keep coming: the election (6-8 s on 2.9) overlaps the burst.
      restart = sleep(3000).then(() => cluster.restart(leader));
    }
    await sleep(100);
  }
  await restart;
  const counts = await waitFor(
    async () => {
      const c = await addedCounts(log, root);
      return c.size >= FILES ? c : undefined;
    },
    90_000,
    `${FILES} ADDED lines`,
  ).catch(async (err) => {
    const c = await addedCounts(log, root);
    throw new Error(`${err.message} (have ${c.size}); daemon log:\n${daemon.logs().slice(-6000)}`);
  });
  const seconds = (performance.now() - started) / 1000;
  console.log(
    `${FILES} files → monitor log on a 3-node cluster (nats-server ${cluster.version}, ` +
      `leader ${leader} killed -9): ${seconds.toFixed(1)} s`,
  );
  const missing = [];
  for (let i = 0; i < FILES; i++) if (!counts.has(`f${i}.txt`)) missing.push(`f${i}.txt`);
  assertEquals(missing, []);
  assertEquals([...counts].filter(([, n]) => n !== 1), [], "every file exactly once");
  assertEquals(counts.size, FILES, "no line for a file that was not created");

  // Nothing left for a redelivery to write twice: every event acked, none waiting for ack_wait.
  const nc = await connect({ servers: cluster.urls });
  try {
    const jsm = await jetstreamManager(nc);
    await waitFor(
      async () => {
        const info = await jsm.consumers.info("FILES", "file-monitor");
        return info.num_pending === 0 && info.num_ack_pending === 0;
      },
      30_000,
      "every event acked",
    );
  } finally {
    await nc.close();
  }
  assertEquals((await addedCounts(log, root)).size, FILES);
  assertEquals(
    [...await addedCounts(log, root)].filter(([, n]) => n !== 1),
    [],
    "still once each after the consumer drained",
  );
  const metrics = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  assert(
    /^jetport_publisher_retries_total\{.*\} [1-9]/m.test(metrics),
    "the kill made the watcher retry",
  );

  daemon.signal("SIGTERM");
  assertEquals((await daemon.exit()).code, 0, daemon.logs().slice(-6000));
  await Deno.remove(dir, { recursive: true });
});
