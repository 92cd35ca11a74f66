/**
 * The consuming roles on a three-node cluster while the node leading their consumer or stream is
 * killed -9 and restarted: the monitor keeps writing, also when the daemon itself is killed -9
 * and started again (every event exactly one line, nothing left unacked), and DLQ capture keeps
 * capturing after the leader of the source stream or of its advisory stream is killed.
 */
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/nats-core";
import { AckPolicy, type JetStreamManager, jetstreamManager } from "@nats-io/jetstream";
import { assert, assertEquals, sleep, waitFor } from "../helpers/assert.ts";
import { freePort } from "../helpers/nats_server.ts";
import { startDaemon } from "../helpers/jetport.ts";
import { writeConfig } from "../helpers/config.ts";
import { type NatsCluster, startNatsCluster, streamSettled } from "../helpers/nats_cluster.ts";
import { configSchema } from "../../src/roles/schemas.ts";
import { createPublisher, type Publisher } from "../../src/nats/publisher.ts";
import { setupLogging } from "../../src/platform/logging.ts";
import type { RoleFactory } from "../../src/roles/role.ts";
import { ROLE_FACTORIES } from "../../src/roles/registry.ts";
import { runConsumer } from "../roles/dlq_redriver/helpers.ts";
import { type InProcessRole, runRoleInProcess } from "../helpers/role.ts";

if (Deno.env.get("JETPORT_TEST_LOG")) {
  await setupLogging({ level: "info", format: "text", rotate: { max_size: 0, keep: 0 } });
}

const NANOS = 1_000_000;

/** Runs one role in-process against every node of `cluster`. */
async function startRole(
  cluster: NatsCluster,
  name: string,
  factory: RoleFactory,
  section: unknown,
  stateDir?: string,
): Promise<InProcessRole> {
  const config = configSchema.parse({
    nats: { servers: cluster.urls, reconnect: { wait: "100ms", max_wait: "1s", jitter: "100ms" } },
    ...(stateDir ? { state_dir: stateDir } : {}),
    roles: { [name]: section },
  });
  return await runRoleInProcess(config, name, factory);
}

/** A client that follows the cluster (reconnects to whichever node is up). */
async function clusterClient(cluster: NatsCluster): Promise<
  { nc: NatsConnection; jsm: JetStreamManager; pub: Publisher } & AsyncDisposable
> {
  const nc = await connect({
    servers: cluster.urls,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 100,
  });
  const pub = createPublisher(nc, { window: 128, ackTimeout: 1000, deadline: 60_000 });
  return {
    nc,
    jsm: await jetstreamManager(nc),
    pub,
    async [Symbol.asyncDispose]() {
      await pub.close(Date.now() + 2000);
      await nc.close();
    },
  };
}

/**
 * Creates an R3 stream; retried because a cluster that just elected its meta leader may not yet
 * know all its peers ("insufficient resources"). Returns once its group is whole, so a consumer
 * can be added at once.
 */
async function createStream(jsm: JetStreamManager, name: string, subject: string) {
  await waitFor(
    () => jsm.streams.add({ name, subjects: [subject], num_replicas: 3 }).then(() => true),
    20_000,
    `stream ${name} created`,
  );
  await streamSettled(jsm, name);
}

/** Kills `node`, restarts it `downMs` later, and waits until `resumed()` says work goes on. */
async function killAndRestart(
  cluster: NatsCluster,
  node: string,
  downMs: number,
  resumed: () => Promise<boolean>,
  what: string,
) {
  await cluster.kill(node);
  await sleep(downMs);
  await cluster.restart(node);
  await waitFor(resumed, 30_000, what);
}

const ACK_WAIT_MS = 15_000;

/**
 * The FILES stream (R3) and the monitor's consumer. Messages the server handed to a pull that died
 * with its consumer leader never reach the monitor, so nothing can ack or nak them: they come back
 * after ack_wait (README, monitor). A short ack_wait keeps that bounded here.
 */
async function filesAndConsumer(jsm: JetStreamManager): Promise<void> {
  await createStream(jsm, "FILES", "file.events");
  await jsm.consumers.add("FILES", {
    durable_name: "file-monitor",
    ack_policy: AckPolicy.Explicit,
    ack_wait: ACK_WAIT_MS * NANOS,
  });
}

/** Publishes numbered file events (`r/f<i>.txt`) in bursts of 20 until stopped. */
function produce(c: Awaited<ReturnType<typeof clusterClient>>) {
  let sent = 0;
  let producing = true;
  const failures: string[] = [];
  const done = (async () => {
    while (producing) {
      for (let k = 0; k < 20; k++) {
        await c.pub.room();
        const i = sent++;
        const event = { operation: "added", path: `f${i}.txt`, root: "r", size: i };
        c.pub.publish({ subject: "file.events", data: JSON.stringify(event), msgId: `e-${i}` })
          .catch((err) => failures.push(err.message));
      }
      await sleep(40);
    }
  })();
  return {
    sent: () => sent,
    /** Stops, waits for every publish; the failures (none expected). */
    async stop(): Promise<string[]> {
      producing = false;
      await done;
      await c.pub.flush();
      return failures;
    },
  };
}

/** Lines in the monitor's log. */
async function lineCount(log: string): Promise<number> {
  return (await Deno.readTextFile(log).catch(() => "")).split("\n").length - 1;
}

/** True once `log` has 200 lines more than `n`. */
const linesPast = (log: string, n: number) => async () => (await lineCount(log)) > n + 200;

/** Waits for the first lines, kills the consumer's leader -9, and waits until writing goes on. */
async function killConsumerLeaderWhileWriting(
  cluster: NatsCluster,
  jsm: JetStreamManager,
  log: string,
  producer: { sent(): number },
): Promise<void> {
  await waitFor(linesPast(log, 0), 30_000, "first lines");
  const leader = (await jsm.consumers.info("FILES", "file-monitor")).cluster?.leader;
  assert(leader, "the consumer has a leader");
  await killAndRestart(
    cluster,
    leader,
    3000,
    linesPast(log, producer.sent()),
    "writing after consumer leader kill",
  );
}

/**
 * Waits until the consumer delivered and acked all `sent` events (within one ack_wait of the last
 * kill), then asserts every event has exactly one line in `log`.
 */
async function assertEveryEventOnce(jsm: JetStreamManager, log: string, sent: number) {
  await waitFor(
    async () => {
      const info = await jsm.consumers.info("FILES", "file-monitor");
      return info.num_pending === 0 && info.num_ack_pending === 0 &&
        info.delivered.stream_seq === sent;
    },
    ACK_WAIT_MS + 30_000,
    `all ${sent} events delivered and acked`,
  ).catch(async (err) => {
    const i = await jsm.consumers.info("FILES", "file-monitor");
    throw new Error(
      `${err.message}: ${i.num_pending} pending, ${i.num_ack_pending} unacked, delivered ` +
        `${i.delivered.stream_seq}, ack floor ${i.ack_floor.stream_seq}, ${await lineCount(
          log,
        )} lines`,
    );
  });
  const counts = new Map<string, number>();
  for (const m of (await Deno.readTextFile(log)).matchAll(/ File ADDED: r\/(f\d+\.txt),/g)) {
    counts.set(m[1], (counts.get(m[1]) ?? 0) + 1);
  }
  const missing = [];
  for (let i = 0; i < sent; i++) if (!counts.has(`f${i}.txt`)) missing.push(i);
  assertEquals(missing, [], "every event written");
  assertEquals([...counts].filter(([, n]) => n > 1), [], "no event written twice");
  assertEquals(await lineCount(log), sent, "no other lines");
}

Deno.test("cluster: the monitor keeps writing while its consumer's and its stream's leaders are killed -9", async () => {
  await using cluster = await startNatsCluster();
  await using c = await clusterClient(cluster);
  await filesAndConsumer(c.jsm);
  const dir = await Deno.makeTempDir({ prefix: "jetport-monitor-cluster-" });
  const log = `${dir}/storage_monitor.log`;
  await using monitor = await startRole(cluster, "monitor", ROLE_FACTORIES.monitor, {
    output: { path: log, fsync: false },
  }, `${dir}/state`);
  const producer = produce(c);
  await killConsumerLeaderWhileWriting(cluster, c.jsm, log, producer);
  const streamLeader = await waitFor(() => cluster.streamLeader("FILES"), 10_000, "stream leader");
  await killAndRestart(
    cluster,
    streamLeader,
    3000,
    linesPast(log, producer.sent()),
    "writing after stream leader kill",
  );
  assertEquals(await producer.stop(), []);
  await assertEveryEventOnce(c.jsm, log, producer.sent());
  const metric = (name: string) =>
    monitor.metrics.counter(name, "").get({ stream: "FILES", consumer: "file-monitor" });
  console.log(
    `${producer.sent()} events; acks sent again: ${metric("monitor_reacks_total")}, ` +
      `redeliveries not rewritten: ${metric("monitor_redeliveries_skipped_total")}`,
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("cluster: the monitor daemon, killed -9 after its consumer's leader was, writes every event exactly once", async () => {
  await using cluster = await startNatsCluster();
  await using c = await clusterClient(cluster);
  await filesAndConsumer(c.jsm);
  const dir = await Deno.makeTempDir({ prefix: "jetport-monitor-daemon-" });
  const log = `${dir}/storage_monitor.log`;
  const config = await writeConfig(`
nats:
  servers: ${JSON.stringify(cluster.urls)}
  reconnect: { wait: 100ms, max_wait: 1s, jitter: 100ms }
http: { listen: "127.0.0.1:${freePort()}" }
shutdown: { grace: 5s }
state_dir: ${dir}/state
roles:
  monitor:
    output: { path: ${log} }
    batch: 50
`);
  const producer = produce(c);
  const first = startDaemon(config);
  await killConsumerLeaderWhileWriting(cluster, c.jsm, log, producer);
  // The daemon itself, mid-stream: lines written but not yet recorded or acked must not repeat.
  first.signal("SIGKILL");
  await first.exit();
  await using second = startDaemon(config);
  await waitFor(linesPast(log, producer.sent()), 30_000, "writing after the daemon's restart")
    .catch((err) => {
      throw new Error(`${err.message}\n${second.logs()}`);
    });
  assertEquals(await producer.stop(), []);
  await assertEveryEventOnce(c.jsm, log, producer.sent());
  second.signal("SIGTERM");
  assertEquals((await second.exit()).code, 0, second.logs());
  await Deno.remove(dir, { recursive: true });
});

/** A source stream whose consumer terminates every message, and a DLQ role capturing them. */
async function dlqSetup(cluster: NatsCluster, c: Awaited<ReturnType<typeof clusterClient>>) {
  await createStream(c.jsm, "UPLOADS", "up.>");
  await c.jsm.consumers.add("UPLOADS", {
    durable_name: "worker",
    ack_policy: AckPolicy.Explicit,
    max_deliver: 3,
  });
  const worker = await runConsumer(c.nc, "UPLOADS", "worker", () => "term");
  const role = await startRole(cluster, "dlq_redriver", ROLE_FACTORIES.dlq_redriver, {
    dlq_stream: "DLQ",
    replicas: 3,
    sources: [{ stream: "UPLOADS", consumer: "worker" }],
  });
  let published = 0;
  const publishBad = async (n: number) => {
    for (let k = 0; k < n; k++) {
      const i = published++;
      await c.pub.publish({ subject: `up.${i}`, data: `bad ${i}`, msgId: `bad-${i}` });
    }
  };
  const inDlq = async () => (await c.jsm.streams.info("DLQ")).state.messages;
  return { worker, role, publishBad, inDlq, published: () => published };
}

/** Where the dead messages are: for a failure message. */
async function dlqState(jsm: JetStreamManager): Promise<string> {
  const part = async (what: string, f: () => Promise<unknown>) =>
    `${what}: ${JSON.stringify(await f().catch((e) => e.message))}`;
  const consumer = async (stream: string, name: string) => {
    const i = await jsm.consumers.info(stream, name);
    return {
      delivered: i.delivered.stream_seq,
      ackFloor: i.ack_floor.stream_seq,
      pending: i.num_pending,
      unacked: i.num_ack_pending,
      leader: i.cluster?.leader,
    };
  };
  const stream = async (name: string) => {
    const i = await jsm.streams.info(name);
    return { messages: i.state.messages, last: i.state.last_seq, leader: i.cluster?.leader };
  };
  return [
    await part("UPLOADS", () => stream("UPLOADS")),
    await part("worker", () => consumer("UPLOADS", "worker")),
    await part("DLQ_ADVISORIES", () => stream("DLQ_ADVISORIES")),
    await part("capture", () => consumer("DLQ_ADVISORIES", "jetport-dlq-capture")),
    await part("DLQ", () => stream("DLQ")),
  ].join("; ");
}

for (const victim of ["UPLOADS", "DLQ_ADVISORIES"]) {
  Deno.test(`cluster: DLQ capture keeps capturing after the ${victim} leader is killed -9`, async () => {
    await using cluster = await startNatsCluster();
    await using c = await clusterClient(cluster);
    const s = await dlqSetup(cluster, c);
    await using _role = s.role;
    try {
      await s.publishBad(10);
      await waitFor(async () => (await s.inDlq()) === 10, 30_000, "10 captured before");
      const leader = await waitFor(() => cluster.streamLeader(victim), 10_000, "leader");
      await cluster.kill(leader);
      await sleep(3000);
      await cluster.restart(leader);
      // Terminated after the election: the advisories reach the (new) advisory stream leader.
      await s.publishBad(10);
      await waitFor(async () => (await s.inDlq()) === 20, 30_000, "20 captured after the kill")
        .catch(async (err) => {
          throw new Error(`${err.message}; ${await dlqState(c.jsm)}`);
        });
      const info = await c.jsm.consumers.info("DLQ_ADVISORIES", "jetport-dlq-capture");
      await waitFor(
        async () => {
          const i = await c.jsm.consumers.info("DLQ_ADVISORIES", "jetport-dlq-capture");
          return i.num_pending === 0 && i.num_ack_pending === 0;
        },
        30_000,
        `capture consumer drained (was ${info.num_pending} pending, ${info.num_ack_pending} unacked)`,
      );
      assertEquals(await s.inDlq(), s.published());
    } finally {
      await s.worker();
    }
  });
}
