import { assert, assertEquals, waitFor } from "../../helpers/assert.ts";
import { startNatsServer } from "../../helpers/nats_server.ts";
import {
  client,
  createdCounts,
  createFilesStream,
  readEvents,
  startWatcher,
  tempDir,
} from "./helpers.ts";

Deno.test("watcher: create, modify, rename, delete are announced once each", async () => {
  await using server = await startNatsServer();
  const nc = await client(server.url);
  await createFilesStream(nc);
  const root = await tempDir("root");
  const state = await tempDir("state");
  await Deno.writeTextFile(`${root}/before.txt`, "existing");
  await using watcher = await startWatcher(server.url, state, {
    watches: [{ name: "storage", path: root, settle: "100ms" }],
  });
  await waitFor(async () => (await readEvents(nc)).length === 1, 15_000, "initial event");

  await Deno.writeTextFile(`${root}/a.txt`, "hello");
  await waitFor(async () => (await readEvents(nc)).length === 2, 15_000, "created");
  await Deno.writeTextFile(`${root}/a.txt`, "hello, world");
  await waitFor(async () => (await readEvents(nc)).length === 3, 15_000, "modified");
  await Deno.rename(`${root}/a.txt`, `${root}/b.txt`);
  await waitFor(async () => (await readEvents(nc)).length === 4, 15_000, "renamed");
  await Deno.remove(`${root}/b.txt`);
  await waitFor(async () => (await readEvents(nc)).length === 5, 15_000, "deleted");

  const events = await readEvents(nc);
  assertEquals(
    events.map((e) => [e.type, e.operation, e.path, e.old_path, e.size, e.initial]),
    [
      ["file.created", "added", "before.txt", undefined, 8, true],
      ["file.created", "added", "a.txt", undefined, 5, false],
      ["file.modified", "modified", "a.txt", undefined, 12, false],
      ["file.renamed", "renamed", "b.txt", "a.txt", 12, false],
      ["file.deleted", "deleted", "b.txt", undefined, 12, false],
    ],
  );
  const e = events[1];
  assertEquals(e.subject, "file.events");
  assertEquals(e.watch, "storage");
  assertEquals(e.root, root.replace(/^\//, "/"));
  assert(/^[0-9a-f]{8}-[0-9a-f]{4}-/.test(e.event_id));
  assertEquals(createdCounts(events).get("a.txt"), 1);
  await watcher.stop();
  await nc.close();
});
