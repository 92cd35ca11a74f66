import { assert, assertEquals, assertRejects } from "../helpers/assert.ts";
import { batches } from "../../src/nats/batches.ts";

/** A source that yields `items` in bursts of `burst`, pausing between bursts. */
async function* bursts(items: number[], burst: number): AsyncGenerator<number> {
  for (let i = 0; i < items.length; i++) {
    if (i > 0 && i % burst === 0) await new Promise((r) => setTimeout(r, 5));
    yield items[i];
  }
}

Deno.test("batches: everything that waited while a batch was handled comes as the next batch", async () => {
  const items = Array.from({ length: 100 }, (_, i) => i);
  const seen: number[][] = [];
  for await (const batch of batches(bursts(items, 10), 8)) {
    seen.push(batch);
    await new Promise((r) => setTimeout(r, 20)); // a slow flush: the source runs ahead
  }
  assertEquals(seen.flat(), items, "order and completeness");
  assert(seen.every((b) => b.length >= 1 && b.length <= 8), "1..max per batch");
  assert(seen.some((b) => b.length === 8), "full batches when items waited");
  assert(seen.length < items.length, "not one item at a time");
});

Deno.test("batches: a source error comes after the items before it", async () => {
  async function* failing() {
    yield 1;
    yield 2;
    throw new RangeError("source broke");
  }
  const got: number[] = [];
  await assertRejects(async () => {
    for await (const batch of batches(failing(), 10)) got.push(...batch);
  }, RangeError);
  assertEquals(got, [1, 2]);
});
