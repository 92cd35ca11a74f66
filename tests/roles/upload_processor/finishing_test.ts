import type { Msg } from "@nats-io/nats-core";
import { assert, assertEquals, waitFor } from "../../helpers/assert.ts";
import { type Harness, harness, runRole, sectionFor } from "./harness.ts";

const text = (s: string) => new TextEncoder().encode(s);

/** True once the source consumer has nothing pending and nothing unacked. */
async function allAcked(h: Harness) {
  const info = await h.jsm.consumers.info("FILE_UPLOADS", "file_processor");
  return info.num_pending === 0 && info.num_ack_pending === 0;
}

/**
 * Result events published to `held.results`, which no stream captures: the test plays the result
 * stream and answers their PubAcks only once `release()` is called (each later one at once).
 */
function heldResults(h: Harness) {
  const held: Msg[] = [];
  let answering = false;
  let seq = 0;
  const answer = (m: Msg) => m.respond(JSON.stringify({ stream: "RESULTS", seq: ++seq }));
  const sub = h.nc.subscribe("held.results", {
    callback: (_err, m) => {
      if (answering) answer(m);
      else held.push(m);
    },
  });
  return {
    /** Event ids of the results received so far (a re-sent one repeats). */
    ids: () => held.map((m) => m.json<{ event_id: string }>().event_id),
    release() {
      answering = true;
      held.splice(0).forEach(answer);
    },
    [Symbol.dispose]: () => sub.unsubscribe(),
  };
}

Deno.test("upload_processor: with one worker, the next event is handled while the previous one's result PubAck is outstanding; at most one more waits behind", async () => {
  await using h = await harness();
  using results = heldResults(h);
  const [a, b, c] = [
    await h.upload(text("a")),
    await h.upload(text("b")),
    await h.upload(text("c")),
  ];
  for (const e of [a, b, c]) await h.publish(e);
  await using run = await runRole(
    h,
    sectionFor(h, { concurrency: 1, publish_result: "held.results" }),
  );

  await waitFor(
    async () => (await h.handlerLog()).includes(`done ${b.event_id}`),
    20_000,
    "b handled while a's result is not acknowledged",
  );
  assertEquals(results.ids()[0], a.event_id);
  // b finishes behind a: its result waits for room, and c is not taken meanwhile.
  assert(!results.ids().includes(b.event_id), "b's result waits while a finishes");
  const info = await h.jsm.consumers.info("FILE_UPLOADS", "file_processor");
  assertEquals([info.num_ack_pending, info.num_pending], [2, 1], "a and b held, c not taken");
  assertEquals(run.metrics.counter("upload_processed_total", "").get(), 0);

  results.release();
  await waitFor(() => allAcked(h), 30_000, "all three acked once their results are stored");
  assertEquals(run.metrics.counter("upload_processed_total", "").get(), 3);
  assertEquals(
    await h.handlerLog(),
    [a, b, c].flatMap((e) => [`start ${e.event_id}`, `done ${e.event_id}`]),
  );
});

Deno.test("upload_processor: a stop while a result PubAck is outstanding ends within the grace; the delivery is given back, not acked, and its redelivery finds it done", async () => {
  await using h = await harness();
  using results = heldResults(h);
  const a = await h.upload(text("a"));
  await h.publish(a);
  const section = sectionFor(h, { concurrency: 1, publish_result: "held.results" });
  const first = await runRole(h, section);
  await waitFor(() => results.ids().includes(a.event_id), 20_000, "a's result published");

  const t0 = Date.now();
  await first.stop(1500);
  // The grace, plus the second the publisher is given to close after it.
  assert(Date.now() - t0 < 1500 + 1000 + 1500, `stop took ${Date.now() - t0} ms`);
  const retried = first.metrics.counter("upload_retried_total", "").get({ reason: "shutdown" });
  assertEquals(retried, 1, "given back at the grace deadline");
  assertEquals(first.metrics.counter("upload_processed_total", "").get(), 0);

  results.release();
  await using second = await runRole(h, section);
  await waitFor(() => allAcked(h), 30_000, "acked after the redelivery");
  assertEquals(second.metrics.counter("upload_duplicates_total", "").get(), 1, "found done");
  assertEquals(await h.handlerLog(), [`start ${a.event_id}`, `done ${a.event_id}`]);
});
