import { assertEquals, waitFor } from "../../helpers/assert.ts";
import { startNatsServer } from "../../helpers/nats_server.ts";
import {
  client,
  createdCounts,
  createFilesStream,
  readEvents,
  startWatcher,
  tempDir,
} from "./helpers.ts";

const FILES = 20_000;

async function createdPaths(nc: Parameters<typeof readEvents>[0]) {
  return createdCounts(await readEvents(nc));
}

Deno.test("watcher: a 20k-file burst (flat and in new nested dirs) is complete, no duplicate created", async () => {
  await using server = await startNatsServer();
  const nc = await client(server.url);
  await createFilesStream(nc);
  const root = await tempDir("burst");
  await using watcher = await startWatcher(server.url, await tempDir("state"), {
    watches: [{ name: "burst", path: root, settle: "200ms" }],
  });
  const expected: string[] = [];
  for (let i = 0; i < FILES / 2; i++) {
    Deno.writeTextFileSync(`${root}/f${i}.txt`, `file ${i}`);
    expected.push(`f${i}.txt`);
  }
  // mkdir -p then files at once: the new directories produce hardly any events.
  for (let d = 0; d < 50; d++) {
    Deno.mkdirSync(`${root}/d${d}/sub/deeper`, { recursive: true });
    for (let i = 0; i < FILES / 100; i++) {
      Deno.writeTextFileSync(`${root}/d${d}/sub/deeper/g${i}.txt`, `g ${i}`);
      expected.push(`d${d}/sub/deeper/g${i}.txt`);
    }
  }
  const counts = await waitFor(
    async () => {
      const c = await createdPaths(nc);
      return c.size >= FILES ? c : undefined;
    },
    120_000,
    `${FILES} created events`,
  );
  assertEquals(expected.filter((p) => !counts.has(p)), []);
  assertEquals([...counts].filter(([, n]) => n > 1), []);
  await watcher.stop();
  await nc.close();
});
