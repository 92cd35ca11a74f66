import { assert, assertEquals, assertThrows } from "../../helpers/assert.ts";
import { createSeqRanges } from "../../../src/roles/monitor/seq_ranges.ts";

Deno.test("seq ranges: consecutive sequences merge into one range, gaps stay gaps", () => {
  const r = createSeqRanges();
  for (const seq of [1, 2, 3, 5, 6, 9]) r.add(seq);
  assertEquals(r.toString(), "1-3,5-6,9");
  r.add(4);
  assertEquals(r.toString(), "1-6,9");
  r.add(8);
  r.add(8);
  r.add(0);
  assertEquals(r.toString(), "0-6,8-9");
  assert(r.has(5) && r.has(8) && !r.has(7) && !r.has(10));
  assertEquals(r.size(), 2);
});

Deno.test("seq ranges: out-of-order adds land in place", () => {
  const r = createSeqRanges();
  for (const seq of [10, 2, 7, 3, 8, 1, 9]) r.add(seq);
  assertEquals(r.toString(), "1-3,7-10");
});

Deno.test("seq ranges: dropThrough forgets what is at or below the floor, splitting a range", () => {
  const r = createSeqRanges("1-10,12,15-20");
  r.dropThrough(12);
  assertEquals(r.toString(), "15-20");
  r.dropThrough(17);
  assertEquals(r.toString(), "18-20");
  assert(!r.has(17) && r.has(18));
});

Deno.test("seq ranges: its text reads back the same; bad text throws", () => {
  assertEquals(createSeqRanges("1-3,5,7-9").toString(), "1-3,5,7-9");
  assertEquals(createSeqRanges("").toString(), "");
  assertThrows(() => createSeqRanges("3-1"), Error);
  assertThrows(() => createSeqRanges("x"), Error);
});
