import { assertEquals } from "../../helpers/assert.ts";
import { openOutbox } from "../../../src/roles/watcher/outbox.ts";
import {
  formatRecord,
  type OutboxRecord,
  parseRecord,
} from "../../../src/roles/watcher/outbox_record.ts";
import { tempDir } from "./helpers.ts";

const state = { size: 12, mtime: 1764000000123, ino: 98765, dir: false };

/** Records with every optional part, and text that JSON must escape. */
const RECORDS: OutboxRecord[] = [
  { n: 1, subject: "file.w.created", msgId: "a1", data: '{"path":"a.txt"}' },
  {
    n: 2,
    subject: "file.w.created",
    msgId: "b2",
    data: JSON.stringify({ path: 'tab\there "quoted" \\ back', emoji: "é🚀" }),
    headers: { "Jetport-Initial-Scan": "true" },
    change: { watch: "w", type: "created", path: 'tab\there "quoted" \\ back', state },
  },
  {
    n: 3,
    subject: "file.w.renamed",
    msgId: "c3",
    data: "{}",
    change: {
      watch: "w",
      type: "renamed",
      path: "new/é.txt",
      oldPath: "old/\u0001ctl.txt",
      state: { ...state, dir: true },
    },
  },
];

Deno.test("outbox record: a line reads back as the record it was written from", () => {
  for (const rec of RECORDS) assertEquals(parseRecord(formatRecord(rec)), rec);
});

Deno.test("outbox record: the fields before the tab are the record's JSON, the payload as it is", () => {
  for (const rec of RECORDS) {
    const line = formatRecord(rec);
    const tab = line.indexOf("\t");
    const { data, ...fields } = rec;
    assertEquals(line.slice(0, tab), JSON.stringify(fields));
    assertEquals(line.slice(tab + 1), data);
  }
});

Deno.test("outbox record: a line of an older version (the whole record as JSON) still reads", () => {
  const old = { ...RECORDS[1], labels: { watch: "w", type: "created" } };
  const rec = parseRecord(JSON.stringify(old))!;
  assertEquals([rec.n, rec.data, rec.change], [2, RECORDS[1].data, RECORDS[1].change]);
});

Deno.test("outbox record: a line that is not a whole record is not one (a torn write)", () => {
  const line = formatRecord(RECORDS[1]);
  for (
    const bad of ["", line.slice(0, 20), '{"x":1}\t{}', "garbage\t{}", '{"n":"1"}\t{}', '{"n":1}']
  ) {
    assertEquals(parseRecord(bad), undefined, bad);
  }
});

Deno.test("outbox record: numbers JSON cannot hold are written as null, and the line still reads", () => {
  const rec = { ...RECORDS[1], change: { ...RECORDS[1].change!, state: { ...state, mtime: NaN } } };
  assertEquals(parseRecord(formatRecord(rec))?.change?.state.mtime, null);
});

Deno.test("outbox record: a payload of more than one line is kept inside the JSON, on one line", () => {
  const rec = { ...RECORDS[1], data: '{"a":\n1}' };
  const line = formatRecord(rec);
  assertEquals(line.includes("\n"), false);
  assertEquals(parseRecord(line), rec);
});

Deno.test("outbox record: an outbox written by an older version is sent after an upgrade", async () => {
  const dir = await tempDir("outbox-old");
  const old = RECORDS.map((r) => JSON.stringify({ ...r, labels: { watch: "w" } }) + "\n");
  await Deno.writeTextFile(`${dir}/seg-000000000001.jsonl`, old.join(""));
  const out = await openOutbox(dir);
  const got: OutboxRecord[] = [];
  for (let i = 0; i < RECORDS.length; i++) got.push((await out.next())!);
  assertEquals(got.map((r) => [r.n, r.msgId, r.data]), RECORDS.map((r) => [r.n, r.msgId, r.data]));
  // Appended after the old lines in the new form: both read back after a reopen.
  out.append({ subject: "file.w.created", msgId: "d4", data: '{"new":true}' });
  await out.close();
  const again = await openOutbox(dir);
  const all: string[] = [];
  for (let i = 0; i < RECORDS.length + 1; i++) all.push((await again.next())!.msgId);
  assertEquals(all, ["a1", "b2", "c3", "d4"]);
  await again.close();
});
