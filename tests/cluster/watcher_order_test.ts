/**
 * Per-file order in the stream on a three-node cluster, through `jetport run`: the same 1500 files
 * are re-created, appended to and deleted round after round while the node leading `FILES`
 * (replicas 3) is killed -9 and restarted 5 s later. Publishes are retried across the election;
 * for every file, its last event in stream order must still agree with what is on disk.
 */
import { assertEquals, sleep, waitFor } from "../helpers/assert.ts";
import { type NatsCluster, startNatsCluster } from "../helpers/nats_cluster.ts";
import { freePort } from "../helpers/nats_server.ts";
import { startDaemon } from "../helpers/jetport.ts";
import { writeConfig } from "../helpers/config.ts";
import { connect } from "@nats-io/transport-node";
import { DeliverPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";

const FILES = 1500;
const ROUNDS = 8;
/** The round in which the FILES leader is killed (so rounds before and after see traffic). */
const KILL_ROUND = 2;

function config(cluster: NatsCluster, dir: string, httpPort: number): Promise<string> {
  return writeConfig(`
nats:
  servers: [${cluster.urls.map((u) => `"${u}"`).join(", ")}]
  reconnect: { wait: 100ms, max_wait: 1s, jitter: 100ms }
http: { listen: "127.0.0.1:${httpPort}" }
shutdown: { grace: 10s }
state_dir: ${dir}/state
roles:
  stream_provisioner:
    streams:
      - { name: FILES, subjects: [file.events], replicas: 3, duplicate_window: 2m }
  watcher:
    watches:
      - { name: storage, path: ${dir}/storage, stream: FILES, subject: file.events, settle: 100ms }
`);
}

/** A metric from the daemon's /metrics, summed over its labels (0 when absent). */
async function metric(httpPort: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  return [...text.matchAll(new RegExp(`^jetport_${name}(?:\\{[^}]*\\})? (\\S+)$`, "gm"))]
    .reduce((sum, m) => sum + Number(m[1]), 0);
}

/**
 * Each file's last event in stream order: `present` after created/modified/renamed-to, `gone`
 * after deleted/renamed-away.
 */
async function lastEvents(cluster: NatsCluster): Promise<Map<string, "present" | "gone">> {
  const nc = await connect({ servers: cluster.urls });
  try {
    const last = new Map<string, "present" | "gone">();
    const total = (await (await jetstreamManager(nc)).streams.info("FILES")).state.last_seq;
    const consumer = await jetstream(nc).consumers.get("FILES", {
      deliver_policy: DeliverPolicy.All,
    });
    const messages = await consumer.consume();
    for await (const m of messages) {
      const e = m.json<{ type: string; path: string; old_path?: string }>();
      if (e.old_path !== undefined) last.set(e.old_path, "gone");
      last.set(e.path, e.type === "file.deleted" ? "gone" : "present");
      if (m.seq >= total) break;
    }
    await messages.close();
    return last;
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
  await using daemon = startDaemon(await config(cluster, dir, httpPort));
  await daemon.waitForLog(/\[watcher\] started/, 60_000);
  const leader = await waitFor(() => cluster.streamLeader("FILES"), 20_000, "FILES leader");

  const name = (i: number) => `d${i % 10}/f${i}.txt`;
  for (let d = 0; d < 10; d++) await Deno.mkdir(`${root}/d${d}`);
  let restart: Promise<void> | undefined;
  for (let round = 0; round < ROUNDS; round++) {
    for (let i = 0; i < FILES; i++) {
      Deno.writeTextFileSync(`${root}/${name(i)}`, `round ${round} file ${i}\n`);
    }
    await sleep(300);
    if (round === KILL_ROUND) {
      await cluster.kill(leader);
      restart = sleep(5000).then(() => cluster.restart(leader));
    }
    for (let i = 0; i < FILES; i++) {
      Deno.writeTextFileSync(`${root}/${name(i)}`, `appended ${round}\n`, { append: true });
    }
    await sleep(300);
    // A different half each round, so every file goes through created → deleted → created.
    for (let i = 0; i < FILES; i++) {
      if ((i + round) % 2 === 0) Deno.removeSync(`${root}/${name(i)}`);
    }
    await sleep(300);
  }
  await restart;

  // The positive marker: a file written after every change, its event stored, nothing left
  // dirty or waiting in the outbox.
  Deno.writeTextFileSync(`${root}/marker.txt`, "done");
  await waitFor(
    async () =>
      (await lastEvents(cluster)).get("marker.txt") === "present" &&
      await metric(httpPort, "watcher_dirty_paths") === 0 &&
      await metric(httpPort, "watcher_outbox_depth") === 0,
    120_000,
    "the marker's event stored and the outbox empty",
  ).catch((err) => {
    throw new Error(`${err.message}; daemon log:\n${daemon.logs().slice(-6000)}`);
  });

  const last = await lastEvents(cluster);
  const wrong: string[] = [];
  for (let i = 0; i < FILES; i++) {
    const present = (i + ROUNDS - 1) % 2 !== 0;
    const seen = last.get(name(i));
    if (present && seen !== "present") wrong.push(`${name(i)} on disk, last event: ${seen}`);
    if (!present && seen === "present") wrong.push(`${name(i)} deleted, last event: ${seen}`);
  }
  assertEquals(wrong, [], "each file's last event in the stream agrees with the disk");
  const retried = await metric(httpPort, "publisher_retries_total");
  console.log(
    `${FILES} files × ${ROUNDS} rounds on a 3-node cluster (nats-server ${cluster.version}, ` +
      `leader ${leader} killed -9): ${retried} publish attempts retried`,
  );

  daemon.signal("SIGTERM");
  assertEquals((await daemon.exit()).code, 0, daemon.logs().slice(-6000));
  await Deno.remove(dir, { recursive: true });
});
