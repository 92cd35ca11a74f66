/**
 * The original adapter's README flow, end to end through `jetport run`: the watcher on
 * `test/storage` publishes to FILES, the monitor writes `test/monitor/storage_monitor.log`.
 * The daemon runs in a temp directory so the config's relative paths are the seed's.
 */
import { assertEquals, assertMatch, waitFor } from "../../helpers/assert.ts";
import { freePort, startNatsServer } from "../../helpers/nats_server.ts";
import { startDaemon } from "../../helpers/jetport.ts";
import { writeConfig } from "../../helpers/config.ts";
import { client, createFilesStream, readLines } from "./helpers.ts";

const WATCHER = `
  watcher:
    watches:
      - { name: storage, path: ./test/storage, stream: FILES, subject: file.events }`;
const MONITOR = `
  monitor:
    stream: FILES
    consumer: file-monitor
    output: { path: ./test/monitor/storage_monitor.log }`;

/** Runs a shell line in `dir`, as the seed README's steps are typed. */
async function sh(dir: string, line: string): Promise<void> {
  const out = await new Deno.Command("sh", { args: ["-c", line], cwd: dir }).output();
  assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
}

async function seedDir(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "jetport-seed-" });
  await Deno.mkdir(`${dir}/test/storage`, { recursive: true });
  return dir;
}

function config(natsUrl: string, roles: string): Promise<string> {
  return writeConfig(`
nats: { servers: "${natsUrl}" }
http: { listen: "127.0.0.1:${freePort()}" }
shutdown: { grace: 5s }
state_dir: ./data/state
roles:${roles}
`);
}

const ADDED =
  /^\[\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\] File ADDED: test\/storage\/test\.txt, Size: 0\.01 KB$/;
const DELETED =
  /^\[\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\] File DELETED: test\/storage\/test\.txt, Size: \d+\.\d\d KB$/;

Deno.test("seed flow: echo > test/storage/test.txt; rm → ADDED and DELETED lines", async () => {
  await using nats = await startNatsServer();
  await using c = await client(nats.url);
  await createFilesStream(c.jsm);
  const dir = await seedDir();
  const log = `${dir}/test/monitor/storage_monitor.log`;
  await using daemon = startDaemon(await config(nats.url, WATCHER + MONITOR), {}, dir);
  await daemon.waitForLog(/\[watcher\] started/, 30_000);
  await daemon.waitForLog(/\[monitor\] started/, 30_000);

  await sh(dir, 'echo "test content" > test/storage/test.txt');
  await waitFor(async () => (await readLines(log)).length === 1, 30_000, "ADDED line");
  await sh(dir, "rm test/storage/test.txt");
  await waitFor(async () => (await readLines(log)).length === 2, 30_000, "DELETED line");
  const lines = await readLines(log);
  assertMatch(lines[0], ADDED);
  assertMatch(lines[1], DELETED);

  daemon.signal("SIGTERM");
  assertEquals((await daemon.exit()).code, 0, daemon.logs());
  await Deno.remove(dir, { recursive: true });
});

Deno.test("seed flow: the monitor started after the changes still writes both lines", async () => {
  await using nats = await startNatsServer();
  await using c = await client(nats.url);
  await createFilesStream(c.jsm);
  const dir = await seedDir();
  const log = `${dir}/test/monitor/storage_monitor.log`;
  const stored = async () => (await c.jsm.streams.info("FILES")).state.messages;
  {
    await using watcher = startDaemon(await config(nats.url, WATCHER), {}, dir);
    await watcher.waitForLog(/\[watcher\] started/, 30_000);
    await sh(dir, 'echo "test content" > test/storage/test.txt');
    await waitFor(async () => (await stored()) === 1, 30_000, "created event stored");
    await sh(dir, "rm test/storage/test.txt");
    await waitFor(async () => (await stored()) === 2, 30_000, "deleted event stored");
    watcher.signal("SIGTERM");
    assertEquals((await watcher.exit()).code, 0, watcher.logs());
  }
  assertEquals(await readLines(log), []);

  await using monitor = startDaemon(await config(nats.url, MONITOR), {}, dir);
  await waitFor(async () => (await readLines(log)).length === 2, 30_000, "both lines");
  const lines = await readLines(log);
  assertMatch(lines[0], ADDED);
  assertMatch(lines[1], DELETED);
  monitor.signal("SIGTERM");
  assertEquals((await monitor.exit()).code, 0, monitor.logs());
  await Deno.remove(dir, { recursive: true });
});
