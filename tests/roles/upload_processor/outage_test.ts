import { assert, assertEquals, assertMatch, sleep, waitFor } from "../../helpers/assert.ts";
import { versionAtLeast } from "../../../src/nats/version.ts";
import { harness, runRole, sectionFor } from "./harness.ts";

const OUTAGE_MS = 30_000;
const UPLOADS = 100;

Deno.test("upload_processor: S3 down for 30 s while 100 uploads arrive → circuit opens, then all 100 processed once, none in the DLQ", async () => {
  await using h = await harness();
  const events = [];
  for (let i = 0; i < UPLOADS; i++) {
    events.push(await h.upload(new TextEncoder().encode(`upload ${i}`), `f${i}.txt`));
  }
  // Few deliveries allowed: without the breaker every upload would end in the DLQ.
  const section = sectionFor(h, {
    retry: { backoff: ["100ms"], max_deliveries: 3 },
    circuit_breaker: { failures: 3, probe_backoff: ["500ms", "1s", "2s"] },
  });
  await using run = await runRole(h, section);
  const gauge = () => run.metrics.gauge("upload_circuit_open", "").get();
  const consumer = () => h.jsm.consumers.info("FILE_UPLOADS", "file_processor");

  await h.s3.stop();
  const outageEnds = Date.now() + OUTAGE_MS;
  for (const event of events) await h.publish(event);
  await waitFor(() => gauge() === 1, 30_000, "the circuit opens");
  assertMatch(run.role.notReadyReason() ?? "", /^circuit open since .*: S3 is down \(GET /);
  if (versionAtLeast(h.nc.info!.version, "2.11.0")) {
    await waitFor(async () => (await consumer()).paused === true, 10_000, "consumer paused");
  }
  await sleep(outageEnds - Date.now()); // the outage lasts its 30 s
  await h.s3.restart();

  const done = async () => (await h.handlerLog()).filter((l) => l.startsWith("done "));
  await waitFor(async () => (await done()).length >= UPLOADS, 90_000, "all uploads processed");
  await waitFor(
    async () => {
      const i = await consumer();
      return i.num_pending === 0 && i.num_ack_pending === 0;
    },
    30_000,
    "all acked",
  );
  assertEquals(new Set(await done()).size, UPLOADS, "each upload processed");
  assertEquals((await done()).length, UPLOADS, "none twice");
  assertEquals(await h.dlqEntries(), [], "nothing dead-lettered");
  assertEquals(run.metrics.counter("upload_processed_total", "").get(), UPLOADS);
  assertEquals(gauge(), 0, "circuit closed");
  assertEquals(run.role.notReadyReason(), undefined);
  assert(run.metrics.counter("upload_circuit_opened_total", "").get() >= 1);
  // Only the few failures before the circuit opened gave a delivery back.
  const retried = run.metrics.counter("upload_retried_total", "").get({ reason: "s3_error" });
  assert(retried <= 2 * section.concurrency, `${retried} retries`);
  assertEquals((await consumer()).paused ?? false, false, "consumer resumed");
});
