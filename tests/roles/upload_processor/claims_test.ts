import { AckPolicy } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { assert, assertEquals, assertMatch, sleep, waitFor } from "../../helpers/assert.ts";
import { versionAtLeast } from "../../../src/nats/version.ts";
import { type Harness, harness, runRole, sectionFor } from "./harness.ts";

const text = (s: string) => new TextEncoder().encode(s);
const BUCKET = "jetport_processed";

/** The consumer with a short ack_wait: claims lapse after max(3 s, ack_wait). */
async function shortAckWait(h: Harness) {
  await h.jsm.consumers.add("FILE_UPLOADS", {
    durable_name: "file_processor",
    filter_subject: "file.uploads",
    ack_policy: AckPolicy.Explicit,
    ack_wait: 3e9,
  });
}

/** Waits for the first DLQ entry. */
async function firstDlqEntry(h: Harness) {
  const entries = await waitFor(
    async () => {
      const all = await h.dlqEntries();
      return all.length > 0 ? all : undefined;
    },
    30_000,
    "a DLQ entry",
  );
  return entries[0];
}

Deno.test("upload_processor: a retryable failure that never clears ends in the DLQ after retry.max_deliveries", async () => {
  await using h = await harness();
  const event = await h.upload(text("always later"));
  await h.publish(event);
  const section = sectionFor(h, { retry: { backoff: ["100ms"], max_deliveries: 3 } });
  (section.handler.env as Record<string, string>).RETRIES_BEFORE_OK = "1000";
  await using run = await runRole(h, section);
  const entry = await firstDlqEntry(h);
  assertMatch(entry.reason, /^handler_failed: .*exited 75 .*\(gave up after 3 deliveries\)$/);
  assertEquals(entry.deliveries, "3");
  assertEquals(await h.handlerLog(), Array(3).fill(`start ${event.event_id}`));
  assertEquals(run.metrics.counter("upload_failed_total", "").get({ reason: "handler_failed" }), 1);
});

Deno.test("upload_processor: an event claimed by another process is given back, not run; when the claim lapses (its holder died) it runs once", async () => {
  await using h = await harness();
  await shortAckWait(h);
  await using run = await runRole(h, sectionFor(h));
  const kv = await new Kvm(h.nc).open(BUCKET);
  const event = await h.upload(text("claimed"));
  // The claim looks fresh for 5 s more than its life (~ack_wait): time enough to see the event
  // given back and not run, however slow the machine, before it lapses.
  await kv.create(
    event.event_id,
    JSON.stringify({ state: "claimed", owner: "x", at: Date.now() + 5000 }),
  );
  await h.publish(event);
  const elsewhere = () => run.metrics.counter("upload_claimed_elsewhere_total", "").get();
  await waitFor(() => elsewhere() >= 1, 30_000, "given back while claimed");
  assertEquals(await h.handlerLog(), [], "not run while another holds the claim");
  // The handler's own "done" line comes before the role records the event as done: wait for both.
  await waitFor(
    async () => JSON.parse((await kv.get(event.event_id))!.string()).state === "done",
    30_000,
    "recorded done once it lapsed",
  );
  assertEquals(await h.handlerLog(), [`start ${event.event_id}`, `done ${event.event_id}`]);
});

Deno.test("upload_processor: on 2.11+ a claim carries a per-key TTL, so a dead holder's claim expires whatever its clock said", async (t) => {
  await using h = await harness();
  if (!versionAtLeast(h.nc.info!.version, "2.11.0")) {
    return void await t.step({ name: "needs nats-server 2.11+", ignore: true, fn: () => {} });
  }
  await shortAckWait(h);
  await using run = await runRole(h, sectionFor(h));
  assert((await h.jsm.streams.info(`KV_${BUCKET}`)).config.allow_msg_ttl, "bucket allows TTLs");
  const kv = await new Kvm(h.nc).open(BUCKET);
  const event = await h.upload(text("ttl"));
  // A claim whose timestamp never looks old: only its TTL can end it.
  const forever = JSON.stringify({ state: "claimed", owner: "x", at: Date.now() + 3_600_000 });
  await kv.create(event.event_id, forever, "2s");
  await h.publish(event);
  await waitFor(() => run.metrics.counter("upload_claimed_elsewhere_total", "").get() >= 1);
  await waitFor(async () => (await h.handlerLog()).length === 2, 30_000, "run once it expired");
  assertEquals(await h.handlerLog(), [`start ${event.event_id}`, `done ${event.event_id}`]);
});

Deno.test("upload_processor: a delivery already dead-lettered sends the same DLQ entry again and is not run; a redriven copy runs", async () => {
  await using h = await harness();
  const dead = await h.upload(text("dead"));
  const redriven = await h.upload(text("redriven"));
  const kv = await new Kvm(h.nc).create(BUCKET, { history: 1 });
  const deadSeq = await h.publish(dead);
  await kv.put(
    dead.event_id,
    JSON.stringify({ state: "dead", seq: deadSeq, reason: "handler_failed: exited 3" }),
  );
  // Dead-lettered at an earlier sequence; this is its redriven copy.
  await kv.put(
    redriven.event_id,
    JSON.stringify({ state: "dead", seq: 1000, reason: "s3_error: GET failed" }),
  );
  await h.publish(redriven);
  await using run = await runRole(h, sectionFor(h));
  await waitFor(async () => (await h.handlerLog()).includes(`done ${redriven.event_id}`), 30_000);
  const entry = await firstDlqEntry(h);
  assertEquals(entry.reason, "handler_failed: exited 3");
  assertEquals(entry.data, JSON.stringify(dead));
  await waitFor(
    async () => {
      const i = await h.jsm.consumers.info("FILE_UPLOADS", "file_processor");
      return i.num_pending === 0 && i.num_ack_pending === 0;
    },
    30_000,
    "acked and terminated",
  );
  assertEquals(await h.handlerLog(), [`start ${redriven.event_id}`, `done ${redriven.event_id}`]);
  assertEquals(run.metrics.counter("upload_failed_total", "").get({ reason: "handler_failed" }), 1);
});

Deno.test("upload_processor: a live holder refreshes its claim while the handler runs, so it never looks lapsed", async () => {
  await using h = await harness();
  await shortAckWait(h); // claims lapse 3 s after their last refresh
  const section = sectionFor(h);
  (section.handler.env as Record<string, string>).SLEEP = "5";
  await using _run = await runRole(h, section);
  const kv = await new Kvm(h.nc).open(BUCKET);
  const event = await h.upload(text("slow"));
  await h.publish(event);
  await waitFor(async () => (await h.handlerLog()).length === 1, 30_000, "handler started");
  const started = Date.now();
  let oldest = 0;
  while (!(await h.handlerLog()).includes(`done ${event.event_id}`)) {
    const entry = await kv.get(event.event_id);
    const record = entry?.operation === "PUT" ? JSON.parse(entry.string()) : undefined;
    if (record?.state === "claimed") oldest = Math.max(oldest, Date.now() - record.at);
    await sleep(200);
  }
  assert(Date.now() - started > 3000, "the handler outlived one claim TTL");
  assert(oldest < 3000, `the claim was ${oldest} ms old at worst`);
  assertEquals((await h.handlerLog()).length, 2);
});
