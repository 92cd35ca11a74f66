/**
 * What the watcher announces: the sha256 of created/modified files with `checksum: sha256`, only
 * the files include/exclude select, and never temp files (unless `ignore_temp_files: false`).
 */
import { createHash } from "node:crypto";
import { assertEquals, waitFor } from "../../helpers/assert.ts";
import { startNatsServer } from "../../helpers/nats_server.ts";
import { client, createFilesStream, readEvents, startWatcher, tempDir } from "./helpers.ts";
const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

Deno.test("watcher: checksum sha256 puts the content's hash on created and modified", async () => {
  await using server = await startNatsServer();
  const nc = await client(server.url);
  await createFilesStream(nc);
  const root = await tempDir("sha");
  await Deno.writeTextFile(`${root}/old.txt`, "there before");
  await using watcher = await startWatcher(server.url, await tempDir("state"), {
    watches: [{ name: "sum", path: root, settle: "100ms", checksum: "sha256" }],
  });
  await Deno.writeTextFile(`${root}/new.txt`, "first version");
  await waitFor(async () => (await readEvents(nc)).length === 2, 15_000, "created");
  await Deno.writeTextFile(`${root}/new.txt`, "second version, longer");
  await waitFor(async () => (await readEvents(nc)).length === 3, 15_000, "modified");
  await Deno.remove(`${root}/new.txt`);
  await waitFor(async () => (await readEvents(nc)).length === 4, 15_000, "deleted");
  assertEquals((await readEvents(nc)).map((e) => [e.type, e.path, e.sha256]), [
    ["file.created", "old.txt", sha256("there before")],
    ["file.created", "new.txt", sha256("first version")],
    ["file.modified", "new.txt", sha256("second version, longer")],
    ["file.deleted", "new.txt", undefined],
  ]);
  await watcher.stop();
  await nc.close();
});

Deno.test("watcher: include/exclude select files (at start and live); temp files are ignored", async () => {
  await using server = await startNatsServer();
  const nc = await client(server.url);
  await createFilesStream(nc);
  const root = await tempDir("filter");
  const raw = await tempDir("raw");
  const write = async (dir: string, path: string) => {
    await Deno.mkdir(`${dir}/${path}`.replace(/\/[^/]+$/, ""), { recursive: true });
    await Deno.writeTextFile(`${dir}/${path}`, path);
  };
  // Before the start (announced by the initial scan) and after it (through events).
  const files = (tag: string) => [
    `${tag}.txt`,
    `${tag}.csv`,
    `${tag}.log`, // not included
    `sub/${tag}.txt`,
    `cache/${tag}.txt`, // excluded directory
    `sub/cache/${tag}.txt`, // excluded at any depth
    `sub/${tag}.bak.txt`, // excluded by name
    // temp files, ignored by default:
    `${tag}.txt.tmp`,
    `.${tag}.txt.swp`,
    `${tag}.txt~`,
    `.#${tag}.txt`,
    `${tag}.part`,
    `~$${tag}.docx`,
  ];
  for (const f of files("early")) await write(root, f);
  await using watcher = await startWatcher(server.url, await tempDir("state"), {
    watches: [
      {
        name: "picky",
        path: root,
        settle: "100ms",
        include: ["**/*.txt", "*.csv", "**/*.docx", "**/*.part"],
        exclude: ["cache", "*.bak.txt"],
        subject: "file.picky",
      },
      { name: "raw", path: raw, settle: "100ms", ignore_temp_files: false, subject: "file.raw" },
    ],
  });
  for (const f of files("late")) await write(root, f);
  await write(root, "zz-last.txt");
  await write(raw, "draft.tmp");
  await write(raw, "zz-last.txt");
  await waitFor(
    async () => {
      const paths = (await readEvents(nc)).map((e) => `${e.watch}:${e.path}`);
      return paths.includes("picky:zz-last.txt") && paths.includes("raw:zz-last.txt");
    },
    15_000,
    "the last files",
  );
  // The zz-last.txt files were written last: whatever earlier files caused is stored by now.
  const events = await readEvents(nc);
  assertEquals(events.filter((e) => e.watch === "picky").map((e) => e.path).sort(), [
    "early.csv",
    "early.txt",
    "late.csv",
    "late.txt",
    "sub/early.txt",
    "sub/late.txt",
    "zz-last.txt",
  ]);
  assertEquals(events.filter((e) => e.watch === "raw").map((e) => e.path).sort(), [
    "draft.tmp",
    "zz-last.txt",
  ]);
  await watcher.stop();
  await nc.close();
});
