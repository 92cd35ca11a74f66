import { assertEquals, waitFor } from "../../helpers/assert.ts";
import { startNatsServer } from "../../helpers/nats_server.ts";
import {
  client,
  createdCounts,
  createFilesStream,
  eventsBeforeMarker,
  readEvents,
  startWatcher,
  tempDir,
} from "./helpers.ts";

const FILES = 50_000;

async function createdPaths(nc: Parameters<typeof readEvents>[0]) {
  return createdCounts(await readEvents(nc));
}

Deno.test("watcher: a 50k-file burst (flat and in new nested dirs) is complete, no duplicate created", async () => {
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

Deno.test("watcher: tar x of a nested tree into the root: every file announced once", async () => {
  await using server = await startNatsServer();
  const nc = await client(server.url);
  await createFilesStream(nc);
  // The tree to pack: 3 levels of new directories, files at every level.
  const src = await tempDir("tar-src");
  const expected = new Map<string, number>();
  for (let a = 0; a < 5; a++) {
    for (let b = 0; b < 5; b++) {
      for (let c = 0; c < 4; c++) {
        const dir = `proj/a${a}/b${b}/c${c}`;
        await Deno.mkdir(`${src}/${dir}`, { recursive: true });
        for (let i = 0; i < 10; i++) {
          const content = `${dir}/${i} `.repeat(i + 1);
          await Deno.writeTextFile(`${src}/${dir}/f${i}.dat`, content);
          expected.set(`${dir}/f${i}.dat`, content.length);
        }
      }
      await Deno.writeTextFile(`${src}/proj/a${a}/b${b}/readme.txt`, "b");
      expected.set(`proj/a${a}/b${b}/readme.txt`, 1);
    }
  }
  const archive = `${await tempDir("tar")}/tree.tar`;
  const pack = await new Deno.Command("tar", { args: ["-cf", archive, "-C", src, "proj"] })
    .output();
  assertEquals(pack.code, 0, new TextDecoder().decode(pack.stderr));

  const root = await tempDir("tar-root");
  await using watcher = await startWatcher(server.url, await tempDir("state"), {
    watches: [{ name: "tar", path: root, settle: "200ms" }],
  });
  const untar = await new Deno.Command("tar", { args: ["-xf", archive, "-C", root] }).output();
  assertEquals(untar.code, 0, new TextDecoder().decode(untar.stderr));

  let missing: string[] = [];
  await waitFor(
    async () => {
      const created = createdCounts(await readEvents(nc));
      missing = [...expected.keys()].filter((p) => !created.has(p));
      return missing.length === 0;
    },
    60_000,
    "every file's created event",
  ).catch((err) => {
    throw new Error(
      `${missing.length} of ${expected.size} files never announced as created: ` +
        missing.slice(0, 20).join(", "),
      { cause: err },
    );
  });
  const events = await eventsBeforeMarker(nc, root);
  assertEquals(
    [...createdCounts(events)].filter(([, n]) => n !== 1),
    [],
    "each file created once",
  );
  // Its last event has its final size. (A tar stalled longer than `settle` between creating a
  // file and writing it, as on a loaded machine, adds a `modified` after a `created` of size 0.)
  const last = new Map(events.map((e) => [e.path, e.size]));
  assertEquals([...last].sort(), [...expected].sort());
  await watcher.stop();
  await nc.close();
});
