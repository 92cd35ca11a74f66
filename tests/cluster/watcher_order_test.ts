/**
 * Per-file order in the stream on a three-node cluster, through `jetport run`: the same 1500 files
 * are re-created, appended to and deleted round after round while the node leading `FILES`
 * (replicas 3) is killed -9 and restarted 5 s later. Publishes are retried across the election;
 * read in stream order, each file's events must still be a possible history (no created while
 * present, no modified or deleted while gone) and its last event must agree with the disk.
 */
import { assertEquals, sleep, waitFor } from "../helpers/assert.ts";
import {
  type NatsCluster,
  settledStreamLeader,
  startNatsCluster,
} from "../helpers/nats_cluster.ts";
import { freePort } from "../helpers/nats_server.ts";
import { startDaemon } from "../helpers/jetport.ts";
import { watcherClusterConfig } from "./watcher_config.ts";
import { connect } from "@nats-io/transport-node";
import { DeliverPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";

const FILES = 1500;
/** Files change a chunk at a time. */
const CHUNK = 300;
const CHUNKS = FILES / CHUNK;
/** Between two steps: longer than the watch's `settle`, so each step is an event of its own. */
const TICK = 200;
/** The tick at which the FILES leader is killed. */
const KILL_TICK = 3 * CHUNKS;

/** A metric from the daemon's /metrics, summed over its labels (0 when absent). */
async function metric(httpPort: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  return [...text.matchAll(new RegExp(`^jetport_${name}(?:\\{[^}]*\\})? (\\S+)$`, "gm"))]
    .reduce((sum, m) => sum + Number(m[1]), 0);
}

/** What the stream says about the files, read in stream order. */
interface StreamView {
  /** Each file's state after its last event: created/modified/renamed-to → present. */
  last: Map<string, "present" | "gone">;
  /** Events impossible in the order stored: a created while present, anything else while gone. */
  outOfOrder: string[];
}

async function readStream(cluster: NatsCluster): Promise<StreamView> {
  const nc = await connect({ servers: cluster.urls });
  try {
    const last = new Map<string, "present" | "gone">();
    const outOfOrder: string[] = [];
    const total = (await (await jetstreamManager(nc)).streams.info("FILES")).state.last_seq;
    const consumer = await jetstream(nc).consumers.get("FILES", {
      deliver_policy: DeliverPolicy.All,
    });
    const messages = await consumer.consume();
    for await (const m of messages) {
      const e = m.json<{ type: string; path: string; old_path?: string }>();
      const before = last.get(e.path) ?? "gone";
      const creates = e.type === "file.created" || e.type === "file.renamed";
      if (creates !== (before === "gone")) {
        outOfOrder.push(`#${m.seq} ${e.type} ${e.path} while ${before}`);
      }
      if (e.old_path !== undefined) last.set(e.old_path, "gone");
      last.set(e.path, e.type === "file.deleted" ? "gone" : "present");
      if (m.seq >= total) break;
    }
    await messages.close();
    return { last, outOfOrder };
  } finally {
    await nc.close();
  }
}

Deno.test("cluster: files re-created, appended to and deleted while the FILES leader is killed -9 → each file's last event matches the disk", async () => {
  await using cluster = await startNatsCluster();
  const dir = await Deno.makeTempDir({ prefix: "jetport-order-cluster-" });
  const root = `${dir}/storage`;
  await Deno.mkdir(root, { recursive: true });
  const httpPort = freePort();
  await using daemon = startDaemon(
    await watcherClusterConfig(cluster, dir, httpPort, { monitor: false }),
  );
  await daemon.waitForLog(/\[watcher\] started/, 60_000);
  // The provisioner's apply is retried with backoff when the cluster does not answer yet (the
  // other roles start meanwhile): FILES exists once it has started. Its group then elects a
  // leader (seconds on 2.9 under load).
  await daemon.waitForLog(/\[stream_provisioner\] started/, 120_000);
  const leader = await settledStreamLeader(cluster, "FILES").catch((err) => {
    throw new Error(`${err.message}; daemon log:\n${daemon.logs().slice(-6000)}`);
  });

  const name = (i: number) => `d${i % 10}/f${i}.txt`;
  for (let d = 0; d < 10; d++) await Deno.mkdir(`${root}/d${d}`);
  const exists = new Array<boolean>(FILES).fill(false);
  // Ticks go on through the kill, the election and the restart, and end with the round after
  // it: each file's last events are published around the election. One chunk of files per
  // tick, so a file's consecutive events are a chunk apart in the outbox, closer than the
  // publisher's window: without per-file order, their retries could swap.
  let restart: Promise<void> | undefined;
  let restarted = false;
  let tick = 0;
  for (; tick < KILL_TICK || !restarted || tick % (3 * CHUNKS) !== 0; tick++) {
    if (tick === KILL_TICK) {
      await cluster.kill(leader);
      restart = sleep(5000).then(() => cluster.restart(leader)).then(() => {
        restarted = true;
      });
    }
    const chunk = Math.floor(tick / 3) % CHUNKS;
    const round = Math.floor(tick / (3 * CHUNKS));
    for (let i = chunk * CHUNK; i < (chunk + 1) * CHUNK; i++) {
      const path = `${root}/${name(i)}`;
      if (tick % 3 === 0) Deno.writeTextFileSync(path, `round ${round} file ${i}\n`);
      else if (tick % 3 === 1) Deno.writeTextFileSync(path, `appended\n`, { append: true });
      else if ((i + round) % 2 === 0) {
        // A different half each round, so every file goes through created → deleted → created.
        Deno.removeSync(path);
        exists[i] = false;
        continue;
      }
      exists[i] = true;
    }
    await sleep(TICK);
  }
  await restart;

  // The positive marker: a file written after every change, its event stored, nothing left
  // dirty or waiting in the outbox.
  Deno.writeTextFileSync(`${root}/marker.txt`, "done");
  await waitFor(
    async () =>
      (await readStream(cluster)).last.get("marker.txt") === "present" &&
      await metric(httpPort, "watcher_dirty_paths") === 0 &&
      await metric(httpPort, "watcher_outbox_depth") === 0,
    120_000,
    "the marker's event stored and the outbox empty",
  ).catch((err) => {
    throw new Error(`${err.message}; daemon log:\n${daemon.logs().slice(-6000)}`);
  });

  const { last, outOfOrder } = await readStream(cluster);
  assertEquals(
    outOfOrder.slice(0, 20),
    [],
    "every file's events stored in the order they happened",
  );
  const wrong: string[] = [];
  for (let i = 0; i < FILES; i++) {
    const present = exists[i];
    const seen = last.get(name(i));
    if (present && seen !== "present") wrong.push(`${name(i)} on disk, last event: ${seen}`);
    if (!present && seen === "present") wrong.push(`${name(i)} deleted, last event: ${seen}`);
  }
  assertEquals(wrong.slice(0, 20), [], "each file's last event in the stream agrees with the disk");
  const retried = await metric(httpPort, "publisher_retries_total");
  console.log(
    `${FILES} files, ${tick} steps on a 3-node cluster (nats-server ${cluster.version}, ` +
      `leader ${leader} killed -9): ${retried} publish attempts retried`,
  );

  daemon.signal("SIGTERM");
  assertEquals((await daemon.exit()).code, 0, daemon.logs().slice(-6000));
  await Deno.remove(dir, { recursive: true });
});
