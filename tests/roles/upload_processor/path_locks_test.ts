import { assertEquals, assertRejects } from "../../helpers/assert.ts";
import {
  heldPaths,
  holdPath,
  releasePath,
} from "../../../src/roles/upload_processor/path_locks.ts";

Deno.test("holdPath: one holder per path, the others in turn; other paths do not wait", async () => {
  const order: string[] = [];
  await holdPath("/d/u/a.txt");
  const second = holdPath("/d/u/a.txt").then(() => order.push("second"));
  const third = holdPath("/d/u/a.txt").then(() => order.push("third"));
  await holdPath("/d/u/b.txt"); // resolves at once
  order.push("b");
  releasePath("/d/u/a.txt");
  await second;
  releasePath("/d/u/a.txt");
  await third;
  assertEquals(order, ["b", "second", "third"]);
  releasePath("/d/u/a.txt");
  releasePath("/d/u/b.txt");
  assertEquals(heldPaths(), 0);
});

Deno.test("holdPath: a wait cut off by its signal rejects and gives its turn to the next", async () => {
  await holdPath("/d/u/c.txt");
  const stop = new AbortController();
  const cut = holdPath("/d/u/c.txt", stop.signal);
  const next = holdPath("/d/u/c.txt");
  stop.abort(new Error("shutdown"));
  assertEquals((await assertRejects(() => cut, Error)).message, "shutdown");
  releasePath("/d/u/c.txt");
  await next; // the next waiter holds it now, not the one cut off
  releasePath("/d/u/c.txt");
  assertEquals(heldPaths(), 0);
  await assertRejects(() => holdPath("/d/u/c.txt", stop.signal), Error);
  assertEquals(heldPaths(), 0, "a signal that already fired takes nothing");
});
