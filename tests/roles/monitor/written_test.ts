/**
 * The written-sequence journal on disk: what is committed survives a reopen, a torn last line
 * (a kill -9 mid-append) is as if never written, the floor and a rewrite keep what matters, and a
 * stream created anew starts the record afresh.
 */
import { assert, assertEquals } from "../../helpers/assert.ts";
import { openWrittenRecord, writtenPath } from "../../../src/roles/monitor/written.ts";

const OPTS = { fsync: true, bootId: "boot-1" };

async function journal(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "jetport-written-" });
  return writtenPath(dir, "file-monitor");
}

Deno.test("written record: its path is <state_dir>/monitor/<consumer>/written", () => {
  assertEquals(
    writtenPath("/var/lib/jetport", "file-monitor"),
    "/var/lib/jetport/monitor/file-monitor/written",
  );
});

Deno.test("written record: committed sequences and the log's end survive a reopen", async () => {
  const path = await journal();
  const w = await openWrittenRecord(path, OPTS);
  assertEquals(w.committed(), undefined);
  await w.ofStream("2026-12-01T00:00:00Z");
  await w.begin({ ino: 7, size: 0 });
  await w.commit([1, 2, 3], { ino: 7, size: 300 });
  await w.commit([5], { ino: 7, size: 400 });
  w.close();
  const again = await openWrittenRecord(path, OPTS);
  assert([1, 2, 3, 5].every((s) => again.has(s)) && !again.has(4) && !again.has(6));
  assertEquals(again.committed(), { ino: 7, size: 400 });
  assertEquals(await again.ofStream("2026-12-01T00:00:00Z"), false, "same stream");
  again.close();
});

Deno.test("written record: a torn last line is as if never written", async () => {
  const path = await journal();
  const w = await openWrittenRecord(path, OPTS);
  await w.commit([1, 2], { ino: 7, size: 200 });
  w.close();
  await Deno.writeTextFile(path, "b 7 300 3-", { append: true }); // killed mid-append
  const again = await openWrittenRecord(path, OPTS);
  assert(again.has(2) && !again.has(3));
  assertEquals(again.committed(), { ino: 7, size: 200 });
  await again.commit([3], { ino: 7, size: 300 });
  again.close();
  const third = await openWrittenRecord(path, OPTS);
  assert(third.has(3), "the next line was not glued to the torn one");
  third.close();
});

Deno.test("written record: the floor covers everything below it, and a rewrite keeps it all", async () => {
  const path = await journal();
  const w = await openWrittenRecord(path, OPTS);
  await w.ofStream("s1");
  for (let seq = 1; seq <= 3000; seq++) {
    await w.commit([seq * 2], { ino: 1, size: seq }); // gaps: a filter subject
    if (seq === 1000) w.raiseFloor(1500);
  }
  assert(w.has(1499) && w.has(1500) && !w.has(1501) && w.has(1502));
  w.close();
  const text = await Deno.readTextFile(path);
  assert(text.split("\n").length < 2100, "the journal was rewritten as it grew");
  const again = await openWrittenRecord(path, OPTS);
  assert(again.has(7) && !again.has(2001) && again.has(6000) && !again.has(6002));
  assertEquals(again.floor(), 1500);
  assertEquals(again.committed(), { ino: 1, size: 3000 });
  again.close();
});

Deno.test("written record: a stream created anew starts the record afresh", async () => {
  const path = await journal();
  const w = await openWrittenRecord(path, OPTS);
  await w.ofStream("s1");
  await w.commit([1, 2], { ino: 1, size: 10 });
  w.raiseFloor(2);
  assertEquals(await w.ofStream("s2"), true);
  assert(!w.has(1) && !w.has(2));
  assertEquals(w.floor(), 0);
  w.close();
  const again = await openWrittenRecord(path, OPTS);
  assert(!again.has(1));
  assertEquals(await again.ofStream("s2"), false);
  again.close();
});

Deno.test("written record: after a reboot the journal's end is not trusted, its sequences are", async () => {
  const path = await journal();
  const w = await openWrittenRecord(path, OPTS);
  await w.begin({ ino: 7, size: 0 });
  await w.commit([1, 2], { ino: 7, size: 200 });
  w.close();
  const same = await openWrittenRecord(path, OPTS);
  assertEquals([same.fromEarlierBoot(), same.committed()], [false, { ino: 7, size: 200 }]);
  same.close();
  const rebooted = await openWrittenRecord(path, { fsync: true, bootId: "boot-2" });
  assertEquals([rebooted.fromEarlierBoot(), rebooted.committed()], [true, undefined]);
  assert(rebooted.has(1) && rebooted.has(2));
  await rebooted.begin({ ino: 7, size: 200 });
  assertEquals([rebooted.fromEarlierBoot(), rebooted.committed()], [false, { ino: 7, size: 200 }]);
  rebooted.close();
});

Deno.test("written record: a damaged journal is read up to the damage and goes on from there", async () => {
  const path = await journal();
  const w = await openWrittenRecord(path, OPTS);
  await w.commit([1, 2], { ino: 7, size: 200 });
  w.close();
  await Deno.writeFile(path, new Uint8Array([0, 0, 0xff, 10, 98, 10]), { append: true });
  const again = await openWrittenRecord(path, OPTS);
  assert(again.has(2) && !again.has(3));
  await again.commit([3], { ino: 7, size: 300 });
  again.close();
  const third = await openWrittenRecord(path, OPTS);
  assert(third.has(3));
  assertEquals(third.committed(), { ino: 7, size: 300 });
  third.close();
});
