import { assertEquals } from "../helpers/assert.ts";
import { createOrderLanes } from "../../src/nats/order_lanes.ts";

interface Msg {
  id: number;
  keys: readonly string[];
}

/** The lanes as plain arrays: what the publisher relies on, written the obvious way. */
function modelLanes() {
  const lanes = new Map<string, Msg[]>();
  return {
    join(e: Msg) {
      let first = true;
      for (const k of e.keys) {
        const lane = lanes.get(k) ?? [];
        if (lane.length > 0) first = false;
        lane.push(e);
        lanes.set(k, lane);
      }
      return first;
    },
    leave(e: Msg) {
      const next: Msg[] = [];
      for (const k of e.keys) {
        const lane = lanes.get(k)!;
        const i = lane.indexOf(e);
        lane.splice(i, 1);
        if (i < lane.length) next.push(lane[i]);
        if (lane.length === 0) lanes.delete(k);
      }
      return next;
    },
    heads: (e: Msg) => e.keys.every((k) => lanes.get(k)![0] === e),
  };
}

Deno.test("order lanes: a message goes when it heads every lane; leaving hands over to the next", () => {
  const lanes = createOrderLanes<Msg>();
  const a = { id: 1, keys: ["x"] }, b = { id: 2, keys: ["x", "y"] }, c = { id: 3, keys: ["y"] };
  assertEquals([lanes.join(a), lanes.join(b), lanes.join(c)], [true, false, false]);
  assertEquals(lanes.heads(b), false);
  assertEquals(lanes.leave(a), [b]);
  assertEquals([lanes.heads(b), lanes.heads(c)], [true, false]);
  assertEquals(lanes.leave(b), [c]);
  assertEquals(lanes.heads(c), true);
  assertEquals(lanes.leave(c), []);
  assertEquals(lanes.join(a), true, "every lane is empty again");
});

Deno.test("order lanes: 20k random joins and leaves agree with plain arrays", () => {
  let seed = 7;
  const random = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
  const lanes = createOrderLanes<Msg>();
  const model = modelLanes();
  const live: Msg[] = [];
  for (let id = 0; id < 20_000; id++) {
    if (live.length > 0 && random(2) === 0) {
      // Leaving from anywhere: a failed message leaves from the middle of its lanes.
      const e = live.splice(random(live.length), 1)[0];
      assertEquals(lanes.leave(e).map((m) => m.id), model.leave(e).map((m) => m.id));
    } else {
      const keys = [...new Set(Array.from({ length: 1 + random(2) }, () => `k${random(5)}`))];
      const e = { id, keys };
      live.push(e);
      assertEquals(lanes.join(e), model.join(e));
    }
    for (const e of live.slice(-3)) assertEquals(lanes.heads(e), model.heads(e));
  }
});
