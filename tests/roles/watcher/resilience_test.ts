import { assertEquals, sleep, waitFor } from "../../helpers/assert.ts";
import { freePort, startNatsServer } from "../../helpers/nats_server.ts";
import { startDaemon } from "../../helpers/jetport.ts";
import { writeConfig } from "../../helpers/config.ts";
import {
  client,
  createdCounts,
  createFilesStream,
  eventsBeforeMarker,
  readEvents,
  startWatcher,
  tempDir,
} from "./helpers.ts";

Deno.test("watcher: editor-style save (temp file renamed over) is one modified", async () => {
  await using server = await startNatsServer();
  const nc = await client(server.url);
  await createFilesStream(nc);
  const root = await tempDir("editor");
  await Deno.writeTextFile(`${root}/doc.txt`, "v1");
  await using watcher = await startWatcher(server.url, await tempDir("state"), {
    watches: [{ name: "docs", path: root, settle: "200ms" }],
  });
  await waitFor(async () => (await readEvents(nc)).length === 1, 15_000, "initial");
  await Deno.writeTextFile(`${root}/.doc.txt.swp`, "swap");
  await Deno.writeTextFile(`${root}/doc.txt.tmp`, "version two");
  await Deno.rename(`${root}/doc.txt.tmp`, `${root}/doc.txt`);
  await Deno.remove(`${root}/.doc.txt.swp`);
  const events = await eventsBeforeMarker(nc, root);
  assertEquals(events.map((e) => [e.type, e.path, e.size]), [
    ["file.created", "doc.txt", 2],
    ["file.modified", "doc.txt", 11],
  ]);
  await watcher.stop();
  await nc.close();
});

Deno.test("watcher: a file written in chunks over 2 s is one created, after the last chunk", async () => {
  await using server = await startNatsServer();
  const nc = await client(server.url);
  await createFilesStream(nc);
  const root = await tempDir("chunks");
  await using watcher = await startWatcher(server.url, await tempDir("state"), {
    watches: [{ name: "up", path: root, settle: "1s" }],
  });
  const file = await Deno.open(`${root}/big.bin`, { write: true, create: true });
  for (let i = 0; i < 10; i++) {
    await file.write(new Uint8Array(1000).fill(i));
    await sleep(200);
  }
  file.close();
  const events = await eventsBeforeMarker(nc, root);
  assertEquals(events.map((e) => [e.type, e.path, e.size]), [
    ["file.created", "big.bin", 10_000],
  ]);
  await watcher.stop();
  await nc.close();
});

Deno.test("watcher: NATS stopped for 20 s while files change: complete after it is back", async () => {
  await using server = await startNatsServer();
  const nc0 = await client(server.url);
  await createFilesStream(nc0);
  await nc0.close();
  const root = await tempDir("outage");
  const state = await tempDir("state");
  for (let i = 0; i < 50; i++) await Deno.writeTextFile(`${root}/old${i}.txt`, `${i}`);
  await using watcher = await startWatcher(server.url, state, {
    watches: [{ name: "o", path: root, settle: "100ms" }],
  });
  await server.stop();
  const downAt = Date.now();
  // Changes all through the outage: creations (flat and in new nested directories), a
  // modification, a deletion and a rename.
  const created: string[] = [];
  for (let round = 0; Date.now() - downAt < 18_000; round++) {
    for (let i = 0; i < 50; i++) {
      await Deno.writeTextFile(`${root}/r${round}-${i}.txt`, `${round} ${i}`);
      created.push(`r${round}-${i}.txt`);
    }
    await Deno.mkdir(`${root}/nested/r${round}/deep`, { recursive: true });
    await Deno.writeTextFile(`${root}/nested/r${round}/deep/x.txt`, `${round}`);
    created.push(`nested/r${round}/deep/x.txt`);
    await sleep(2000);
  }
  await Deno.writeTextFile(`${root}/old0.txt`, "modified while NATS was down");
  await Deno.remove(`${root}/old1.txt`);
  await Deno.rename(`${root}/old2.txt`, `${root}/renamed2.txt`);
  await waitFor(
    () => /watcher_outbox_depth [1-9]/.test(watcher.metrics.render()),
    15_000,
    "events waiting in the outbox",
  );
  await sleep(Math.max(0, 20_000 - (Date.now() - downAt)));
  await server.restart();
  const nc = await client(server.url);
  const events = await waitFor(
    async () => {
      const e = await readEvents(nc);
      const have = new Set(e.map((x) => `${x.type} ${x.path}`));
      const missing = [
        ...created.map((p) => `file.created ${p}`),
        "file.modified old0.txt",
        "file.deleted old1.txt",
        "file.renamed renamed2.txt",
      ].filter((x) => !have.has(x));
      if (missing.length === 0) return e;
      throw new Error(`${missing.length} missing, e.g. ${missing.slice(0, 3)}`);
    },
    60_000,
    "every change made during the outage",
  );
  const counts = createdCounts(events);
  assertEquals(counts.size, 50 + created.length);
  assertEquals([...counts].filter(([, n]) => n > 1), []);
  assertEquals(events.find((e) => e.type === "file.renamed")?.old_path, "old2.txt");
  await watcher.stop();
  await nc.close();
});

Deno.test("watcher: kill -9 mid-burst, changes while down, restart: every change is stored", async () => {
  await using server = await startNatsServer();
  const nc = await client(server.url);
  await createFilesStream(nc);
  const root = await tempDir("crash");
  const state = await tempDir("state");
  const httpPort = freePort();
  const file = await writeConfig(`
nats: { servers: "${server.url}" }
http: { listen: "127.0.0.1:${httpPort}" }
state_dir: ${state}
roles:
  watcher:
    watches: [{ name: storage, path: ${root}, settle: 100ms }]
`);
  const daemon = startDaemon(file);
  await waitFor(
    async () => {
      const res = await fetch(`http://127.0.0.1:${httpPort}/readyz`).catch(() => undefined);
      await res?.body?.cancel();
      return res?.status === 200;
    },
    30_000,
    "ready",
  );
  for (let i = 0; i < 3000; i++) {
    await Deno.writeTextFile(`${root}/a${i}.txt`, `${i}`);
    if (i === 1) {
      // a0 and a1 are announced before the crash, so their change while down must be seen (a
      // file created and deleted while nobody watched rightly gets no event at all).
      await waitFor(async () => createdCounts(await readEvents(nc)).size >= 2, 30_000, "a0, a1");
    }
    if (i === 1500) daemon.signal("SIGKILL");
  }
  await daemon.exit();
  // While it is down: more files, a deletion, a modification.
  for (let i = 0; i < 500; i++) await Deno.writeTextFile(`${root}/b${i}.txt`, `${i}`);
  await Deno.remove(`${root}/a0.txt`);
  await Deno.writeTextFile(`${root}/a1.txt`, "changed while down");
  await using again = startDaemon(file);
  const expected = 3000 + 500;
  const events = await waitFor(
    async () => {
      const e = await readEvents(nc);
      const created = createdCounts(e);
      const deleted = e.some((x) => x.type === "file.deleted" && x.path === "a0.txt");
      const modified = e.some((x) => x.path === "a1.txt" && x.size === 18);
      if (created.size >= expected && deleted && modified) return e;
      throw new Error(
        `created ${created.size}/${expected}, a0 deleted ${deleted}, a1 modified ${modified}`,
      );
    },
    60_000,
    "every change after the restart",
  ).catch((err) => {
    throw new Error(`${err.message}\n${again.logs()}`);
  });
  assertEquals([...createdCounts(events)].filter(([, n]) => n > 1), []);
  again.signal("SIGTERM");
  assertEquals((await again.exit()).code, 0, again.logs());
  await nc.close();
});
