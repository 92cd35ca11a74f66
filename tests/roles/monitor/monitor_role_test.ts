/**
 * The monitor in-process (its factory with a RoleContext): the DLQ path, needing a
 * `roles.dlq_redriver` section, and what stop() gives back.
 */
import { AckPolicy, RetentionPolicy, StorageType } from "@nats-io/jetstream";
import { assert, assertEquals, waitFor } from "../../helpers/assert.ts";
import { startNatsServer } from "../../helpers/nats_server.ts";
import { configSchema } from "../../../src/roles/schemas.ts";
import { ROLE_FACTORIES } from "../../../src/roles/registry.ts";
import { type InProcessRole, runRoleInProcess } from "../../helpers/role.ts";
import { client, createFilesStream, fileEvent, publish, readLines } from "./helpers.ts";

/**
 * Runs the monitor role in this process, its state beside its log; dispose stops it and closes
 * its connection.
 */
async function runMonitor(
  url: string,
  roles: { monitor: { output: { path: string }; batch?: number } } & Record<string, unknown>,
): Promise<InProcessRole> {
  const stateDir = roles.monitor.output.path.replace(/\/[^/]*$/, "/state");
  const config = configSchema.parse({ nats: { servers: url }, state_dir: stateDir, roles });
  return await runRoleInProcess(config, "monitor", ROLE_FACTORIES.monitor);
}

Deno.test("monitor role: an unparsable message goes to the DLQ byte for byte; the next is written", async () => {
  await using nats = await startNatsServer();
  await using c = await client(nats.url);
  await createFilesStream(c.jsm);
  await c.jsm.streams.add({
    name: "DLQ",
    subjects: ["dlq.>"],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
  });
  const dir = await Deno.makeTempDir({ prefix: "jetport-monitor-" });
  const log = `${dir}/m.log`;
  const garbage = '{"path": "half a json';
  await publish(c.nc, [fileEvent("added", "a.txt"), garbage, fileEvent("added", "b.txt")]);

  await using m = await runMonitor(nats.url, {
    monitor: { output: { path: log } },
    dlq_redriver: { dlq_stream: "DLQ", subject_prefix: "dlq" },
  });
  await waitFor(async () => (await readLines(log)).length === 2, 20_000, "two lines");
  const lines = await readLines(log);
  assert(lines[0].includes("test/storage/a.txt") && lines[1].includes("test/storage/b.txt"));

  const dlq = await waitFor(
    async () => {
      const info = await c.jsm.streams.info("DLQ");
      return info.state.messages === 1 ? info : undefined;
    },
    10_000,
    "one dead letter",
  );
  const entry = (await c.jsm.streams.getMessage("DLQ", { seq: dlq.state.first_seq }))!;
  assertEquals(entry.subject, "dlq.FILES.file-monitor");
  assertEquals(new TextDecoder().decode(entry.data), garbage);
  assertEquals(entry.header.get("Jetport-Dlq-Stream"), "FILES");
  assertEquals(entry.header.get("Jetport-Dlq-Consumer"), "file-monitor");
  assertEquals(entry.header.get("Jetport-Dlq-Seq"), "2");
  assertEquals(entry.header.get("Jetport-Dlq-Subject"), "file.events");
  assert(/not valid JSON/.test(entry.header.get("Jetport-Dlq-Reason")));
  // Terminated after the copy was stored: nothing left pending on the source consumer.
  await waitFor(
    async () => {
      const info = await c.jsm.consumers.info("FILES", "file-monitor");
      return info.num_ack_pending === 0 && info.ack_floor.stream_seq === 3;
    },
    10_000,
    "nothing pending",
  );
  assertEquals(
    m.metrics.counter("monitor_bad_messages_total", "").get({
      stream: "FILES",
      consumer: "file-monitor",
    }),
    1,
  );
  assertEquals(m.crashes, []);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("monitor role: a stop while events still arrive flushes and acks what it wrote, gives the rest back", async () => {
  await using nats = await startNatsServer();
  await using c = await client(nats.url);
  await createFilesStream(c.jsm);
  const dir = await Deno.makeTempDir({ prefix: "jetport-monitor-" });
  const log = `${dir}/m.log`;
  // Messages already on their way when the subscription closes are not seen, so not naked: they
  // come back after ack_wait. A short one keeps the test quick.
  await c.jsm.consumers.add("FILES", {
    durable_name: "file-monitor",
    ack_policy: AckPolicy.Explicit,
    ack_wait: 2_000_000_000,
  });
  // Events keep coming until the role has stopped, and one more after: it cannot have written them
  // all. (A fixed 2000 published first raced the monitor, which could write them all before the
  // stop once it was fast enough.)
  let published = 0;
  let stopped = false;
  const next = () => fileEvent("added", `s${published++}.txt`);
  const publishing = (async () => {
    while (!stopped) await publish(c.nc, Array.from({ length: 50 }, next));
    await publish(c.nc, [next()]);
  })();
  {
    await using m = await runMonitor(nats.url, { monitor: { output: { path: log }, batch: 20 } });
    await waitFor(async () => (await readLines(log)).length > 0, 20_000, "first lines");
    await m.role.stop(Date.now() + 5000);
    stopped = true;
    await publishing;
  }
  const total = published;
  const info = await c.jsm.consumers.info("FILES", "file-monitor");
  const written = new Set((await readLines(log)).map((l) => /storage\/(\S+),/.exec(l)![1]));
  assert(written.size < total, "stopped before the end");
  // Everything acked is in the file.
  for (let seq = 1; seq <= info.ack_floor.stream_seq; seq++) {
    assert(written.has(`s${seq - 1}.txt`), `acked seq ${seq} is missing from the log`);
  }
  // A new run picks up the rest.
  await using _again = await runMonitor(nats.url, { monitor: { output: { path: log } } });
  await waitFor(
    async () => {
      const names = new Set((await readLines(log)).map((l) => /storage\/(\S+),/.exec(l)![1]));
      return names.size === total;
    },
    60_000,
    "all events after the second run",
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("monitor role: events delivered again (a consumer reset to the start) get no second line", async () => {
  await using nats = await startNatsServer();
  await using c = await client(nats.url);
  await createFilesStream(c.jsm);
  const dir = await Deno.makeTempDir({ prefix: "jetport-monitor-" });
  const log = `${dir}/m.log`;
  await publish(c.nc, Array.from({ length: 50 }, (_, i) => fileEvent("added", `a${i}.txt`)));
  {
    await using _m = await runMonitor(nats.url, { monitor: { output: { path: log } } });
    await waitFor(async () => (await readLines(log)).length === 50, 20_000, "50 lines");
  }
  // Delivers everything again: as a new leader that lost the acks would, or an operator's reset.
  await c.jsm.consumers.delete("FILES", "file-monitor");
  await c.jsm.consumers.add("FILES", {
    durable_name: "file-monitor",
    ack_policy: AckPolicy.Explicit,
  });
  await publish(c.nc, [fileEvent("added", "marker.txt")]);
  await using m = await runMonitor(nats.url, { monitor: { output: { path: log } } });
  await waitFor(
    async () => (await readLines(log)).at(-1)?.includes("marker.txt"),
    20_000,
    "the marker's line",
  );
  const lines = await readLines(log);
  assertEquals(lines.length, 51, "each event once, the marker last");
  await waitFor(
    async () => (await c.jsm.consumers.info("FILES", "file-monitor")).ack_floor.stream_seq === 51,
    10_000,
    "everything acked",
  );
  const skipped = m.metrics.counter("monitor_redeliveries_skipped_total", "")
    .get({ stream: "FILES", consumer: "file-monitor" });
  assertEquals(skipped, 50);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("monitor role: lines a kill -9 left in the log without a journal line are cut at start and written once", async () => {
  await using nats = await startNatsServer();
  await using c = await client(nats.url);
  await createFilesStream(c.jsm);
  const dir = await Deno.makeTempDir({ prefix: "jetport-monitor-" });
  const log = `${dir}/m.log`;
  await publish(c.nc, Array.from({ length: 10 }, (_, i) => fileEvent("added", `a${i}.txt`)));
  {
    await using _m = await runMonitor(nats.url, { monitor: { output: { path: log } } });
    await waitFor(async () => (await readLines(log)).length === 10, 20_000, "10 lines");
  }
  // As if killed after writing the next batch's lines, before its journal line and its acks.
  await publish(c.nc, Array.from({ length: 5 }, (_, i) => fileEvent("added", `b${i}.txt`)));
  await Deno.writeTextFile(log, "a line of a batch never recorded\n".repeat(5), { append: true });
  await using _m = await runMonitor(nats.url, { monitor: { output: { path: log } } });
  await waitFor(
    async () => (await readLines(log)).at(-1)?.includes("b4.txt"),
    20_000,
    "the last event's line",
  );
  const lines = await readLines(log);
  assertEquals(lines.filter((l) => l.includes("never recorded")), [], "the unrecorded lines cut");
  assertEquals(lines.length, 15, "each event once");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("monitor role: a push consumer under its name is a clear error, not a hang", async () => {
  await using nats = await startNatsServer();
  await using c = await client(nats.url);
  await createFilesStream(c.jsm);
  await c.jsm.consumers.add("FILES", {
    durable_name: "file-monitor",
    ack_policy: AckPolicy.Explicit,
    deliver_subject: "somewhere.else",
  });
  const dir = await Deno.makeTempDir({ prefix: "jetport-monitor-" });
  await using m = await runMonitor(nats.url, { monitor: { output: { path: `${dir}/m.log` } } });
  const err = await waitFor(() => m.crashes[0], 10_000, "the role reports a crash") as Error;
  assert(/FILES\/file-monitor is a push consumer/.test(err.message), err.message);
  assert(/remove deliver_subject/.test(m.role.notReadyReason() ?? ""), m.role.notReadyReason());
  await Deno.remove(dir, { recursive: true });
});

Deno.test("monitor role: the consumer it creates may have four batches unacked (at least 1000)", async () => {
  await using nats = await startNatsServer();
  await using c = await client(nats.url);
  await createFilesStream(c.jsm);
  const dir = await Deno.makeTempDir({ prefix: "jetport-monitor-" });
  await publish(c.nc, [fileEvent("added", "a.txt")]);
  for (const [batch, expected] of [[600, 2400], [100, 1000]]) {
    const log = `${dir}/${batch}/m.log`; // its own journal too: the event is new to each
    await using m = await runMonitor(nats.url, { monitor: { output: { path: log }, batch } });
    await waitFor(async () => (await readLines(log)).length === 1, 10_000, "the line");
    const info = await c.jsm.consumers.info("FILES", "file-monitor");
    assertEquals(info.config.max_ack_pending, expected, `batch ${batch}`);
    await m.stop();
    await c.jsm.consumers.delete("FILES", "file-monitor");
  }
  await Deno.remove(dir, { recursive: true });
});
