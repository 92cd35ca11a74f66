/**
 * The watcher when the OS watcher fails it: the inotify watch limit (at open, and later while
 * running) and events lost without a word (recovered through the cookie file and a rescan).
 * The OS watcher is replaced in-process by stand-ins that fail the way Deno.watchFs does.
 */
import { assert, assertEquals, assertMatch, sleep, waitFor } from "../../helpers/assert.ts";
import { startNatsServer } from "../../helpers/nats_server.ts";
import type { WatchFs } from "../../../src/roles/watcher/watch.ts";
import {
  captureLogs,
  client,
  createFilesStream,
  droppingWatchFs,
  metricValue,
  readEvents,
  startWatcher,
  type StoredEvent,
  tempDir,
} from "./helpers.ts";

/** What Deno.watchFs throws when inotify's max_user_watches is exhausted (notify's message). */
const watchLimit = (path: string) => new Error(`OS file watch limit reached. about ["${path}"]`);

function summary(events: StoredEvent[]): string[] {
  return events.map((e) => `${e.type} ${e.path}`).sort();
}

async function waitForEvents(nc: Parameters<typeof readEvents>[0], expected: string[]) {
  return await waitFor(
    async () => {
      const got = summary(await readEvents(nc));
      if (expected.every((e) => got.includes(e))) return got;
      throw new Error(`have ${JSON.stringify(got)}`);
    },
    20_000,
    expected.join(", "),
  );
}

Deno.test("watcher: the OS watch limit at open → periodic scans, logged, every change published", async () => {
  await using logs = await captureLogs();
  await using server = await startNatsServer();
  const nc = await client(server.url);
  await createFilesStream(nc);
  const root = await tempDir("limit");
  await Deno.writeTextFile(`${root}/before.txt`, "old");
  const refuse: WatchFs = (path) => {
    throw watchLimit(path);
  };
  await using watcher = await startWatcher(server.url, await tempDir("state"), {
    poll_interval: "300ms",
    watches: [{ name: "lim", path: root, settle: "100ms" }],
  }, { watchFs: refuse });

  assertEquals(metricValue(watcher.metrics, "watcher_polling", { watch: "lim" }), 1);
  const said = logs.lines.find((l) => l.includes("refuses more file watches"));
  assert(said, `no fallback log line in:\n${logs.lines.join("")}`);
  assertMatch(said, /ERROR.*watch lim: .*OS file watch limit reached.*full scan every 300 ms/);
  assertMatch(said, /fs\.inotify\.max_user_watches/);
  await waitForEvents(nc, ["file.created before.txt"]);

  await Deno.writeTextFile(`${root}/a.txt`, "a");
  await Deno.mkdir(`${root}/d/e`, { recursive: true });
  await Deno.writeTextFile(`${root}/d/e/f.txt`, "f");
  await Deno.remove(`${root}/before.txt`);
  const got = await waitForEvents(nc, [
    "file.created a.txt",
    "file.created d/e/f.txt",
    "file.deleted before.txt",
  ]);
  assertEquals(got, [
    "file.created a.txt",
    "file.created before.txt",
    "file.created d/e/f.txt",
    "file.deleted before.txt",
  ]);
  await waitFor(
    () => metricValue(watcher.metrics, "watcher_rescans_total", { watch: "lim", reason: "poll" }),
    10_000,
    "a completed poll scan",
  );
  await watcher.stop();
  await nc.close();
});

Deno.test("watcher: the OS watch limit hit while running (a new directory) → periodic scans", async () => {
  await using logs = await captureLogs();
  await using server = await startNatsServer();
  const nc = await client(server.url);
  await createFilesStream(nc);
  const root = await tempDir("limit-late");
  // Works until a directory appears: adding its watch is refused, the event stream ends in error.
  const refuseNewDirs: WatchFs = (path, options) => {
    const real = Deno.watchFs(path, options);
    return {
      close: () => real.close(),
      [Symbol.dispose]: () => real.close(),
      async *[Symbol.asyncIterator]() {
        for await (const event of real) {
          if (event.paths.some((p) => p.endsWith("/newdir"))) throw watchLimit(`${path}/newdir`);
          yield event;
        }
      },
    };
  };
  await using watcher = await startWatcher(server.url, await tempDir("state"), {
    poll_interval: "300ms",
    watches: [{ name: "late", path: root, settle: "100ms" }],
  }, { watchFs: refuseNewDirs });
  await Deno.writeTextFile(`${root}/first.txt`, "1");
  await waitForEvents(nc, ["file.created first.txt"]);
  assertEquals(metricValue(watcher.metrics, "watcher_polling", { watch: "late" }), 0);

  await Deno.mkdir(`${root}/newdir`);
  await Deno.writeTextFile(`${root}/newdir/inside.txt`, "2");
  await waitFor(
    () => metricValue(watcher.metrics, "watcher_polling", { watch: "late" }) === 1,
    10_000,
    "polling",
  );
  await Deno.writeTextFile(`${root}/after.txt`, "3");
  assertEquals(
    await waitForEvents(nc, ["file.created newdir/inside.txt", "file.created after.txt"]),
    ["file.created after.txt", "file.created first.txt", "file.created newdir/inside.txt"],
  );
  assert(logs.lines.some((l) => /refuses more file watches .*max_user_watches/.test(l)));
  await watcher.stop();
  await nc.close();
});

Deno.test("watcher: once the OS accepts watches again, the watch is back to events", async () => {
  await using logs = await captureLogs();
  await using server = await startNatsServer();
  const nc = await client(server.url);
  await createFilesStream(nc);
  const root = await tempDir("limit-lifted");
  let refusals = 1; // the limit is raised after the first try
  const refuseOnce: WatchFs = (path, options) => {
    if (refusals-- > 0) throw watchLimit(path);
    return Deno.watchFs(path, options);
  };
  await using watcher = await startWatcher(server.url, await tempDir("state"), {
    poll_interval: "200ms",
    cookie_interval: "0ms",
    watches: [{ name: "back", path: root, settle: "100ms", rescan_interval: "1h" }],
  }, { watchFs: refuseOnce });
  assertEquals(metricValue(watcher.metrics, "watcher_polling", { watch: "back" }), 1);
  await waitFor(
    () => metricValue(watcher.metrics, "watcher_polling", { watch: "back" }) === 0,
    15_000,
    "back to events",
  );
  assert(logs.lines.some((l) => l.includes("accepts file watches again; back to events")));
  // One catch-up scan follows the reopening; after it, no scan runs (no polling, interval 1 h),
  // so only an event can announce this file.
  await waitFor(
    () =>
      metricValue(watcher.metrics, "watcher_rescans_total", { watch: "back", reason: "reopen" }),
    10_000,
    "the catch-up scan after reopening",
  );
  const scans = () =>
    metricValue(watcher.metrics, "watcher_rescans_total", { watch: "back", reason: "poll" });
  const before = scans();
  await Deno.writeTextFile(`${root}/via-event.txt`, "e");
  await waitForEvents(nc, ["file.created via-event.txt"]);
  assertEquals(scans(), before);
  await watcher.stop();
  await nc.close();
});

Deno.test("watcher: events lost without a word are recovered through the cookie file", async () => {
  await using logs = await captureLogs();
  await using server = await startNatsServer();
  const nc = await client(server.url);
  await createFilesStream(nc);
  const root = await tempDir("cookie");
  let drop = false;
  await using watcher = await startWatcher(server.url, await tempDir("state"), {
    cookie_interval: "300ms",
    // Neither the interval scan nor a burst can be what finds the lost file.
    watches: [{ name: "ck", path: root, settle: "100ms", rescan_interval: "1h" }],
  }, { watchFs: droppingWatchFs(() => drop) });
  await Deno.writeTextFile(`${root}/seen.txt`, "seen");
  await waitForEvents(nc, ["file.created seen.txt"]);

  // From now on no event arrives, the cookie's included: as when the kernel queue overflows.
  drop = true;
  await Deno.writeTextFile(`${root}/lost.txt`, "lost");
  assertEquals(await waitForEvents(nc, ["file.created lost.txt"]), [
    "file.created lost.txt",
    "file.created seen.txt",
  ]);
  const labels = { watch: "ck", reason: "cookie" };
  assert(metricValue(watcher.metrics, "watcher_loss_detections_total", labels) >= 1);
  // Its events go out during the scan; the scan is counted once it is done.
  await waitFor(
    () => metricValue(watcher.metrics, "watcher_rescans_total", labels) >= 1,
    10_000,
    "the cookie rescan to complete",
  );
  assertEquals(
    metricValue(watcher.metrics, "watcher_rescans_total", { watch: "ck", reason: "interval" }),
    0,
  );
  assert(logs.lines.some((l) => l.includes("events may have been lost (cookie)")));
  await watcher.stop();
  await nc.close();
});

Deno.test("watcher: a directory whose late events are all lost while the watch is busy is listed again once the watch is quiet", async () => {
  await using server = await startNatsServer();
  const nc = await client(server.url);
  await createFilesStream(nc);
  const root = await tempDir("relist");
  await Deno.mkdir(`${root}/x`);
  await Deno.mkdir(`${root}/y`);
  // Deno under CPU starvation: every event of x/ after the first is dropped.
  let dropX = false;
  const watchFs = droppingWatchFs((e) => dropX && e.paths.some((p) => p.includes("/x/")));
  await using watcher = await startWatcher(server.url, await tempDir("state"), {
    cookie_interval: "0ms",
    watches: [{ name: "relist", path: root, settle: "500ms", rescan_interval: "1h" }],
  }, { watchFs });
  // Other activity keeps the watch busy (a write every 20 ms, well inside `settle`).
  let busy = true;
  const writer = (async () => {
    for (let i = 0; busy; i++) {
      await Deno.writeTextFile(`${root}/y/${i % 5}.txt`, `${i}`);
      await sleep(20);
    }
  })();
  await Deno.writeTextFile(`${root}/x/a.txt`, "a");
  // x/ has been listed once (before a.txt was announced); b.txt comes after, without an event.
  await waitForEvents(nc, ["file.created x/a.txt"]);
  dropX = true;
  await Deno.writeTextFile(`${root}/x/b.txt`, "b");
  busy = false;
  await writer;
  await waitForEvents(nc, ["file.created x/b.txt"]);
  await watcher.stop();
  await nc.close();
});
