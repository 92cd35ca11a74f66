import { jetstream } from "@nats-io/jetstream";
import { headers } from "@nats-io/nats-core";
import { Kvm } from "@nats-io/kv";
import { assertEquals, waitFor } from "../../helpers/assert.ts";
import { type Harness, harness, runRole, sectionFor } from "./harness.ts";
import { heldPaths } from "../../../src/roles/upload_processor/path_locks.ts";

const text = (s: string) => new TextEncoder().encode(s);

/** True once the source consumer has nothing pending and nothing unacked. */
async function allAcked(h: Harness) {
  const info = await h.jsm.consumers.info("FILE_UPLOADS", "file_processor");
  return info.num_pending === 0 && info.num_ack_pending === 0;
}

/** Every message of the `RESULTS` stream, parsed. */
async function results(h: Harness) {
  const info = await h.jsm.streams.info("RESULTS");
  const out: Record<string, unknown>[] = [];
  for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
    const m = await h.jsm.streams.getMessage("RESULTS", { seq }).catch(() => undefined);
    if (m) out.push(m.json());
  }
  return out;
}

Deno.test("upload_processor: a result event the stream refuses holds the ack; the redelivery stores the same result once, the handler ran once", async () => {
  await using h = await harness();
  // RESULTS refuses the result (too large for it) until its limit is lifted.
  await h.jsm.streams.update("RESULTS", { max_msg_size: 16 });
  const event = await h.upload(text("result held"));
  await h.publish(event);
  await using run = await runRole(h, sectionFor(h));
  const unpublished = () =>
    run.metrics.counter("upload_retried_total", "").get({ reason: "result_unpublished" });
  await waitFor(() => unpublished() >= 1, 30_000, "the refused result given back for a retry");
  assertEquals(await allAcked(h), false, "not acked while its result is not stored");
  assertEquals(run.metrics.counter("upload_processed_total", "").get(), 0);
  await h.jsm.streams.update("RESULTS", { max_msg_size: -1 });
  await waitFor(() => allAcked(h), 30_000, "acked once the result is stored");
  const stored = await results(h);
  assertEquals(stored.map((r) => [r.event_id, r.status]), [[event.event_id, "processed"]]);
  assertEquals(await h.handlerLog(), [`start ${event.event_id}`, `done ${event.event_id}`]);
  assertEquals(run.metrics.counter("upload_duplicates_total", "").get(), 1);
});

Deno.test("upload_processor: a delivery of an event recorded done publishes its recorded result again (stored once per Nats-Msg-Id) and is acked, not run", async () => {
  await using h = await harness();
  const kv = await new Kvm(h.nc).create("jetport_processed", { history: 1 });
  // Two crashes after the handler ran: one before the result was published, one after.
  const beforePublish = await h.upload(text("crashed before the result"));
  const afterPublish = await h.upload(text("crashed before the ack"));
  for (const e of [beforePublish, afterPublish]) {
    const result = { event_id: e.event_id, file_uuid: e.file_uuid, status: "processed" };
    const done = { state: "done", processed_at: new Date().toISOString(), result };
    await kv.put(e.event_id, JSON.stringify(done));
  }
  const stored = { event_id: afterPublish.event_id, file_uuid: afterPublish.file_uuid };
  const h1 = headers();
  h1.set("Nats-Msg-Id", `${afterPublish.event_id}:result`);
  await jetstream(h.nc).publish(
    "file.processed",
    JSON.stringify({ ...stored, status: "processed" }),
    { headers: h1 },
  );
  await h.publish(beforePublish);
  await h.publish(afterPublish);
  await using run = await runRole(h, sectionFor(h));
  await waitFor(() => allAcked(h), 30_000, "both acked");
  const ids = (await results(h)).map((r) => r.event_id).sort();
  assertEquals(ids, [beforePublish.event_id, afterPublish.event_id].sort());
  assertEquals(await h.handlerLog(), []);
  assertEquals(run.metrics.counter("upload_duplicates_total", "").get(), 2);
});

Deno.test("upload_processor: without a handler (keep_files) the decrypted file stays in download_dir and the result event names it", async () => {
  await using h = await harness();
  const plain = text("download only");
  const event = await h.upload(plain, "report.pdf");
  await h.publish(event);
  const section = sectionFor(h, { keep_files: true });
  delete (section as Record<string, unknown>).handler;
  await using run = await runRole(h, section);
  await waitFor(() => allAcked(h), 30_000, "acked");
  const [result] = await results(h);
  const path = `${h.dir}/downloads/${event.file_uuid}/report.pdf`;
  assertEquals(result, {
    event_id: event.event_id,
    file_uuid: event.file_uuid,
    status: "processed",
    duration_ms: result.duration_ms,
    output_path: path,
  });
  assertEquals(await Deno.readFile(path), plain);
  assertEquals(run.metrics.counter("upload_processed_total", "").get(), 1);
});

Deno.test("upload_processor: two events naming one local file (an upload sent again with a new event_id) run one after the other, each handler with the whole file", async () => {
  await using h = await harness();
  const plain = text("sent twice");
  const first = await h.upload(plain, "twice.txt");
  const again = { ...first, event_id: crypto.randomUUID() }; // same file_uuid, object and name
  const section = sectionFor(h); // 3 workers: both are taken at once
  (section.handler.env as Record<string, string>).SLEEP = "1";
  await h.publish(first);
  await h.publish(again);
  {
    await using _run = await runRole(h, section);
    await waitFor(() => allAcked(h), 30_000, "both acked");
  }
  const log = await h.handlerLog();
  const [a, b] = [log[0].split(" ")[1], log[2]?.split(" ")[1]];
  // The second handler starts only once the first is done and its file removed.
  assertEquals(log, [`start ${a}`, `done ${a}`, `start ${b}`, `done ${b}`]);
  assertEquals(new Set([a, b]), new Set([first.event_id, again.event_id]));
  for (const id of [a, b]) assertEquals(await Deno.readFile(`${h.dir}/files/${id}`), plain);
  assertEquals(await h.dlqEntries(), []);
  assertEquals(heldPaths(), 0, "every path given up once the role stopped");
});
