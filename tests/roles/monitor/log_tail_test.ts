/**
 * Cutting the log back to the journal's last committed end at start: lines of a batch that was
 * written but never committed go, also when that batch rotated the log; a log the journal does
 * not know is left alone.
 */
import { assertEquals } from "../../helpers/assert.ts";
import { cutUncommittedTail } from "../../../src/roles/monitor/log_tail.ts";
import type { LogEnd } from "../../../src/roles/monitor/written.ts";

async function end(path: string): Promise<LogEnd> {
  const info = await Deno.stat(path);
  return { ino: info.ino!, size: info.size };
}

Deno.test("log tail: bytes after the committed end are cut", async () => {
  const dir = await Deno.makeTempDir({ prefix: "jetport-tail-" });
  const log = `${dir}/m.log`;
  await Deno.writeTextFile(log, "one\ntwo\n");
  const committed = await end(log);
  assertEquals(await cutUncommittedTail(log, 2, committed), { kind: "clean" });
  await Deno.writeTextFile(log, "three\nfo", { append: true });
  assertEquals(await cutUncommittedTail(log, 2, committed), { kind: "cut", bytes: 8, files: 0 });
  assertEquals(await Deno.readTextFile(log), "one\ntwo\n");
});

Deno.test("log tail: an uncommitted batch that rotated the log twice is undone", async () => {
  const dir = await Deno.makeTempDir({ prefix: "jetport-tail-" });
  const log = `${dir}/m.log`;
  await Deno.writeTextFile(`${log}.1`, "older\n");
  await Deno.writeTextFile(log, "committed\n");
  const committed = await end(log);
  // The batch: one more line, then two rotations (m.log → .1 → .2), lines in each new file.
  await Deno.writeTextFile(log, "x1\n", { append: true });
  await Deno.rename(`${log}.1`, `${log}.2`);
  await Deno.rename(log, `${log}.1`);
  await Deno.writeTextFile(log, "x2\n");
  await Deno.remove(`${log}.2`);
  await Deno.rename(`${log}.1`, `${log}.2`);
  await Deno.rename(log, `${log}.1`);
  await Deno.writeTextFile(log, "x3\n");
  assertEquals(await cutUncommittedTail(log, 2, committed), { kind: "cut", bytes: 9, files: 2 });
  assertEquals(await Deno.readTextFile(log), "committed\n");
  assertEquals([...Deno.readDirSync(dir)].map((e) => e.name).sort(), ["m.log"]);
});

Deno.test("log tail: a kill -9 in the middle of a rotation is undone", async () => {
  const dir = await Deno.makeTempDir({ prefix: "jetport-tail-" });
  const log = `${dir}/m.log`;
  await Deno.writeTextFile(`${log}.1`, "older\n");
  await Deno.writeTextFile(log, "committed\n");
  const committed = await end(log);
  await Deno.rename(`${log}.1`, `${log}.2`);
  await Deno.rename(log, `${log}.1`); // killed before the new file was opened
  assertEquals(await cutUncommittedTail(log, 2, committed), { kind: "clean" });
  assertEquals(await Deno.readTextFile(log), "committed\n");
  assertEquals(await Deno.readTextFile(`${log}.1`), "older\n");
});

Deno.test("log tail: a log the journal does not know is left alone", async () => {
  const dir = await Deno.makeTempDir({ prefix: "jetport-tail-" });
  const log = `${dir}/m.log`;
  await Deno.writeTextFile(log, "committed\n");
  const committed = await end(log);
  await Deno.writeTextFile(`${dir}/new`, "someone else's\n");
  await Deno.rename(`${dir}/new`, log); // replaced (a new inode)
  assertEquals((await cutUncommittedTail(log, 2, committed)).kind, "unknown");
  assertEquals(await Deno.readTextFile(log), "someone else's\n");
  await Deno.writeTextFile(log, "", { create: true });
  const short = await end(log);
  assertEquals(
    (await cutUncommittedTail(log, 2, { ino: short.ino, size: 100 })).kind,
    "unknown",
  );
});
