/**
 * The monitor as a user runs it: `jetport run` with a `roles.monitor` section, a real nats-server,
 * events published with plain nats.js into a FILES stream the test creates.
 */
import { AckPolicy, DeliverPolicy } from "@nats-io/jetstream";
import {
  assert,
  assertEquals,
  assertMatch,
  assertStringIncludes,
  waitFor,
} from "../../helpers/assert.ts";
import { freePort, startNatsServer } from "../../helpers/nats_server.ts";
import { startDaemon } from "../../helpers/jetport.ts";
import { writeConfig } from "../../helpers/config.ts";
import {
  client,
  createFilesStream,
  fileEvent,
  LINE_HEAD,
  publish,
  readLines,
  readWholeLines,
} from "./helpers.ts";

interface Setup {
  natsUrl: string;
  dir: string;
  httpPort: number;
  output?: string;
  extra?: string;
}

/** A config with the monitor writing into `<dir>/monitor/storage_monitor.log`. */
function monitorConfig(s: Setup): Promise<string> {
  return writeConfig(`
nats: { servers: "${s.natsUrl}", reconnect: { wait: 100ms, max_wait: 500ms, jitter: 50ms } }
http: { listen: "127.0.0.1:${s.httpPort}" }
shutdown: { grace: 5s }
state_dir: ${s.dir}/state
roles:
  monitor:
    output: { path: ${s.dir}/monitor/storage_monitor.log${s.output ?? ""} }
${s.extra ?? ""}`);
}

async function metric(port: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const m = new RegExp(`^jetport_${name}(?:\\{[^}]*\\})? (\\S+)$`, "m").exec(text);
  return m ? Number(m[1]) : NaN;
}

async function readyz(port: number): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}/readyz`);
  return { status: res.status, body: await res.text() };
}

const UTC = { TZ: "UTC" }; // the adapter's line is in local time; fix the zone for exact lines

Deno.test("monitor: seed flow — ADDED then DELETED, exact lines, events from before it started", async () => {
  await using nats = await startNatsServer();
  await using c = await client(nats.url);
  await createFilesStream(c.jsm);
  const dir = await Deno.makeTempDir({ prefix: "jetport-monitor-" });
  const log = `${dir}/monitor/storage_monitor.log`;
  // Published while no monitor runs: JetStream keeps them for the durable consumer.
  await publish(c.nc, [
    fileEvent("added", "test.txt", 13, { timestamp: "2025-01-01T12:00:00.000Z" }),
    fileEvent("deleted", "test.txt", 0, { timestamp: "2025-01-01T12:00:01.000Z", size: 0 }),
  ]);
  const httpPort = freePort();
  await using daemon = startDaemon(await monitorConfig({ natsUrl: nats.url, dir, httpPort }), UTC);
  await waitFor(async () => (await readLines(log)).length === 2, 20_000, "two lines");
  assertEquals(await readLines(log), [
    "[2025-01-01 12:00:00] File ADDED: test/storage/test.txt, Size: 0.01 KB",
    "[2025-01-01 12:00:01] File DELETED: test/storage/test.txt, Size: 0.00 KB",
  ]);
  assertStringIncludes(daemon.logs(), "created consumer FILES/file-monitor");
  const info = await c.jsm.consumers.info("FILES", "file-monitor");
  assertEquals(info.config.ack_policy, AckPolicy.Explicit);
  assertEquals(info.config.deliver_policy, DeliverPolicy.All);

  // And while it runs: a modification, then a rename.
  await publish(c.nc, [
    fileEvent("modified", "test.txt", 2048, { timestamp: "2025-01-01T12:00:02Z" }),
    fileEvent("renamed", "b.txt", 2048, {
      old_path: "test.txt",
      timestamp: "2025-01-01T12:00:03Z",
    }),
  ]);
  await waitFor(async () => (await readLines(log)).length === 4, 20_000, "four lines");
  assertEquals((await readLines(log)).slice(2), [
    "[2025-01-01 12:00:02] File MODIFIED: test/storage/test.txt, Size: 2.00 KB",
    "[2025-01-01 12:00:03] File RENAMED: test/storage/b.txt, Size: 2.00 KB, From: test/storage/test.txt",
  ]);
  await waitFor(
    async () => (await c.jsm.consumers.info("FILES", "file-monitor")).ack_floor.stream_seq === 4,
    10_000,
    "all four acked",
  );
  assertEquals(await metric(httpPort, "monitor_lines_written_total"), 4);
  assertEquals(await metric(httpPort, "monitor_acked_total"), 4);
  assertEquals((await readyz(httpPort)).status, 200);
  daemon.signal("SIGTERM");
  assertEquals((await daemon.exit()).code, 0, daemon.logs());
  await Deno.remove(dir, { recursive: true });
});

Deno.test("monitor: an unparsable message is terminated with a logged reason; the next is written", async () => {
  await using nats = await startNatsServer();
  await using c = await client(nats.url);
  await createFilesStream(c.jsm);
  const dir = await Deno.makeTempDir({ prefix: "jetport-monitor-" });
  const log = `${dir}/monitor/storage_monitor.log`;
  const httpPort = freePort();
  await using daemon = startDaemon(await monitorConfig({ natsUrl: nats.url, dir, httpPort }));
  await publish(c.nc, [
    fileEvent("added", "one.txt"),
    "this is not json",
    { path: "x", type: "file.exploded" },
    fileEvent("added", "two.txt"),
  ]);
  await waitFor(async () => (await readLines(log)).length === 2, 20_000, "two good lines");
  const lines = await readLines(log);
  assertMatch(lines[0], /File ADDED: test\/storage\/one\.txt, /);
  assertMatch(lines[1], /File ADDED: test\/storage\/two\.txt, /);
  await daemon.waitForLog(/bad message FILES seq 2 .*not valid JSON.*terminated/);
  await daemon.waitForLog(/bad message FILES seq 3 .*known "type".*terminated/);
  // Terminated for good, on 2.9 too (bare +TERM): nothing stays pending, nothing comes back.
  await waitFor(
    async () => {
      const info = await c.jsm.consumers.info("FILES", "file-monitor");
      return info.num_ack_pending === 0 && info.ack_floor.stream_seq === 4;
    },
    10_000,
    "nothing pending",
  );
  assertEquals(await metric(httpPort, "monitor_bad_messages_total"), 2);
  daemon.signal("SIGTERM");
  assertEquals((await daemon.exit()).code, 0, daemon.logs());
  await Deno.remove(dir, { recursive: true });
});

Deno.test("monitor: kill -9 mid-stream, three times — acked events are in the file, every event exactly one line", async () => {
  await using nats = await startNatsServer();
  await using c = await client(nats.url);
  await createFilesStream(c.jsm);
  // Declared by someone else (as the provisioner would), with a short ack_wait so unacked
  // messages of the killed daemon come back quickly. The monitor uses it as it is.
  await c.jsm.consumers.add("FILES", {
    durable_name: "file-monitor",
    ack_policy: AckPolicy.Explicit,
    ack_wait: 2_000_000_000,
  });
  const dir = await Deno.makeTempDir({ prefix: "jetport-monitor-" });
  const log = `${dir}/monitor/storage_monitor.log`;
  const config = await monitorConfig({
    natsUrl: nats.url,
    dir,
    httpPort: freePort(),
    extra: "    batch: 50",
  });
  const total = 3000;
  const name = (i: number) => `f${String(i).padStart(5, "0")}.txt`;
  // Whole lines only: the daemon may be writing a group while this reads, or was killed mid-write.
  const names = async () => (await readWholeLines(log)).map((l) => /storage\/(\S+),/.exec(l)![1]);
  const publishing = publish(
    c.nc,
    Array.from({ length: total }, (_, i) => fileEvent("added", name(i))),
  );
  for (const lines of [200, 1000, 2000]) {
    const daemon = startDaemon(config);
    await waitFor(async () => (await readLines(log)).length >= lines, 30_000, `${lines} lines`);
    daemon.signal("SIGKILL");
    await daemon.exit();
    const floor = (await c.jsm.consumers.info("FILES", "file-monitor")).ack_floor.stream_seq;
    const written = new Set(await names());
    assert(floor > 0, "something was acked before the kill");
    for (let seq = 1; seq <= floor; seq++) {
      assert(written.has(name(seq - 1)), `acked seq ${seq} (${name(seq - 1)}) is not in the log`);
    }
  }
  await publishing;

  await using last = startDaemon(config);
  await waitFor(
    async () => new Set(await names()).size === total,
    60_000,
    `all ${total} events in the log after the restarts`,
  );
  last.signal("SIGTERM");
  assertEquals((await last.exit()).code, 0, last.logs());
  const lines = await readLines(log);
  assert(lines.every((l) => LINE_HEAD.test(l)), "every line is whole");
  const seen = new Set<string>();
  const twice = (await names()).filter((n) => seen.has(n) || !seen.add(n));
  assertEquals(twice, [], "no event written twice");
  assertEquals(lines.length, total);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("monitor: rotation by size keeps N files of whole lines", async () => {
  await using nats = await startNatsServer();
  await using c = await client(nats.url);
  await createFilesStream(c.jsm);
  const dir = await Deno.makeTempDir({ prefix: "jetport-monitor-" });
  const log = `${dir}/monitor/storage_monitor.log`;
  const config = await monitorConfig({
    natsUrl: nats.url,
    dir,
    httpPort: freePort(),
    output: ", rotate: { max_size: 2KiB, keep: 2 }",
  });
  const total = 150; // ~70 bytes a line: about five files' worth
  await publish(c.nc, Array.from({ length: total }, (_, i) => fileEvent("added", `r${i}.txt`)));
  await using daemon = startDaemon(config);
  await waitFor(
    async () => (await readLines(log)).at(-1)?.includes(`r${total - 1}.txt`),
    20_000,
    "last event written",
  ).catch((e) => {
    console.log(daemon.logs());
    throw e;
  });
  daemon.signal("SIGTERM");
  assertEquals((await daemon.exit()).code, 0, daemon.logs());
  const names = [...Deno.readDirSync(`${dir}/monitor`)].map((e) => e.name).sort();
  assertEquals(names, ["storage_monitor.log", "storage_monitor.log.1", "storage_monitor.log.2"]);
  // Oldest to newest, the kept files hold a contiguous tail of the events, each file <= 2 KiB.
  const all: string[] = [];
  for (const n of names.slice().reverse()) {
    assert(Deno.statSync(`${dir}/monitor/${n}`).size <= 2048, `${n} is larger than max_size`);
    all.push(...await readLines(`${dir}/monitor/${n}`));
  }
  assert(all.every((l) => LINE_HEAD.test(l)), "every line is whole");
  const indexes = all.map((l) => Number(/\/r(\d+)\.txt/.exec(l)![1]));
  assertEquals(
    indexes,
    Array.from({ length: indexes.length }, (_, i) => total - indexes.length + i),
  );
  assert(indexes.length < total, "older files were removed");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("monitor: consumer deleted while running is recreated; server restart is survived", async () => {
  await using nats = await startNatsServer();
  const dir = await Deno.makeTempDir({ prefix: "jetport-monitor-" });
  const log = `${dir}/monitor/storage_monitor.log`;
  const httpPort = freePort();
  await using daemon = startDaemon(await monitorConfig({ natsUrl: nats.url, dir, httpPort }));
  {
    await using c = await client(nats.url);
    await createFilesStream(c.jsm);
    await publish(c.nc, [fileEvent("added", "before.txt")]);
    await waitFor(async () => (await readLines(log)).length === 1, 30_000, "first line");

    await c.jsm.consumers.delete("FILES", "file-monitor");
    await daemon.waitForLog(/consumer FILES\/file-monitor is gone/, 30_000);
    await publish(c.nc, [fileEvent("added", "after-delete.txt")]);
    await waitFor(
      async () => (await readLines(log)).some((l) => l.includes("after-delete.txt")),
      30_000,
      "line after the consumer was deleted",
    );
    assert(await c.jsm.consumers.info("FILES", "file-monitor"), "consumer recreated");
  }

  await nats.stop();
  await waitFor(async () => (await readyz(httpPort)).status === 503, 15_000, "503 while down");
  await nats.restart();
  await using c = await client(nats.url);
  await publish(c.nc, [fileEvent("deleted", "after-restart.txt", 0)]);
  await waitFor(
    async () =>
      (await readLines(log)).some((l) => l.includes("DELETED: test/storage/after-restart")),
    30_000,
    "line after the server restart",
  );
  await waitFor(async () => (await readyz(httpPort)).status === 200, 15_000, "ready again");
  daemon.signal("SIGTERM");
  assertEquals((await daemon.exit()).code, 0, daemon.logs());
  await Deno.remove(dir, { recursive: true });
});

Deno.test("monitor: not ready while its stream is missing; JSON lines once it appears", async () => {
  await using nats = await startNatsServer();
  const dir = await Deno.makeTempDir({ prefix: "jetport-monitor-" });
  const log = `${dir}/monitor/storage_monitor.log`;
  const httpPort = freePort();
  await using daemon = startDaemon(
    await monitorConfig({ natsUrl: nats.url, dir, httpPort, output: ", format: json" }),
  );
  const down = await waitFor(
    async () => {
      const r = await readyz(httpPort).catch(() => undefined);
      return r?.body.includes("stream FILES does not exist") ? r : undefined;
    },
    20_000,
    "readyz names the missing stream",
  );
  assertEquals(down.status, 503);
  await daemon.waitForLog(/stream FILES does not exist; waiting for it/);

  await using c = await client(nats.url);
  await createFilesStream(c.jsm);
  await publish(c.nc, [fileEvent("added", "j.txt", 1024)]);
  await waitFor(async () => (await readLines(log)).length === 1, 60_000, "json line");
  const line = JSON.parse((await readLines(log))[0]);
  assertEquals(line.operation, "ADDED");
  assertEquals(line.path, "test/storage/j.txt");
  assertEquals(line.size_kb, 1);
  assertEquals(line.stream, "FILES");
  assertEquals(line.seq, 1);
  assertEquals(line.event.path, "j.txt");
  await waitFor(async () => (await readyz(httpPort)).status === 200, 15_000, "ready");
  daemon.signal("SIGTERM");
  assertEquals((await daemon.exit()).code, 0, daemon.logs());
  await Deno.remove(dir, { recursive: true });
});
