import { Kvm } from "@nats-io/kv";
import { assert, assertEquals, assertMatch, waitFor } from "../../helpers/assert.ts";
import { BUCKET, harness, runRole, sectionFor, sha256 } from "./harness.ts";
import { newMasterKey, sealUpload, uploadEvent } from "./producer.ts";

function random(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(out.subarray(i, i + 65536));
  return out;
}

async function consumerState(h: Awaited<ReturnType<typeof harness>>) {
  const info = await h.jsm.consumers.info("FILE_UPLOADS", "file_processor");
  return { pending: info.num_pending, ackPending: info.num_ack_pending };
}

Deno.test("upload_processor: 200 uploads, two processes × 3 workers, each handled once, byte-identical", async () => {
  await using h = await harness();
  const originals = new Map<string, string>();
  for (let i = 0; i < 200; i++) {
    const plain = random(i % 10 === 0 ? 300_000 + i : 1000 + i);
    const event = await h.upload(plain, `file-${i}.bin`);
    originals.set(event.event_id, await sha256(plain));
    await h.publish(event);
  }
  // Two role instances on their own connections share the durable, like two jetport processes.
  await using a = await runRole(h, sectionFor(h));
  await using b = await runRole(h, sectionFor(h));
  await waitFor(
    async () => (await h.handlerLog()).filter((l) => l.startsWith("done")).length >= 200,
    120_000,
    "200 handler runs",
  );
  await waitFor(async () => (await consumerState(h)).ackPending === 0, 30_000, "all acked");
  await a.stop();
  await b.stop();

  const log = await h.handlerLog();
  assertEquals(log.length, 400, "one start and one done per event, nothing ran twice");
  assertEquals(new Set(log).size, 400);
  for (const [id, digest] of originals) {
    assertEquals(await sha256(await Deno.readFile(`${h.dir}/files/${id}`)), digest, id);
  }
  const processed = a.metrics.counter("upload_processed_total", "").get() +
    b.metrics.counter("upload_processed_total", "").get();
  assertEquals(processed, 200);
  assert(a.metrics.counter("upload_processed_total", "").get() > 0, "process a took work");
  assert(b.metrics.counter("upload_processed_total", "").get() > 0, "process b took work");
  assertEquals(await consumerState(h), { pending: 0, ackPending: 0 });
  // Downloads are deleted after success (keep_files: false); only the empty temp dir remains.
  assertEquals([...Deno.readDirSync(`${h.dir}/downloads`)].map((e) => e.name), [".partial"]);
  assertEquals(a.crashes.length + b.crashes.length, 0);
});

Deno.test("upload_processor: bad and hostile uploads go to the DLQ with their reason, once; good ones (extra fields too) flow", async () => {
  await using h = await harness();
  const good1 = await h.upload(random(5000));
  // Wrapped with another master key.
  const wrongKey = uploadEvent("user@example.com", "x.bin", BUCKET);
  const sealed = await sealUpload(newMasterKey(), random(100), "x.bin");
  await h.s3.put(BUCKET, wrongKey.s3_data_key, sealed.data);
  await h.s3.put(BUCKET, wrongKey.s3_metadata_key, sealed.metadata);
  // One ciphertext byte flipped.
  const tampered = uploadEvent("user@example.com", "t.bin", BUCKET);
  const good = await sealUpload(h.masterKey, random(70_000), "t.bin");
  good.data[5000] ^= 0x40;
  await h.s3.put(BUCKET, tampered.s3_data_key, good.data);
  await h.s3.put(BUCKET, tampered.s3_metadata_key, good.metadata);
  const missing = uploadEvent("user@example.com", "gone.bin", BUCKET);
  const traversal = { ...uploadEvent("user@example.com", "p.bin", BUCKET) };
  traversal.s3_data_key = "uploads/../../../etc/passwd";
  const absolute = { ...uploadEvent("user@example.com", "a.bin", BUCKET) };
  absolute.s3_metadata_key = "/etc/passwd";
  const climbingUuid = { ...uploadEvent("user@example.com", "u.bin", BUCKET), file_uuid: "../.." };
  const { email: _, ...noEmail } = uploadEvent("user@example.com", "n.bin", BUCKET);
  // A metadata document whose original_filename tries to climb out of download_dir.
  const evilName = uploadEvent("user@example.com", "evil.sh", BUCKET);
  const evil = await sealUpload(h.masterKey, random(10), "../../evil.sh");
  await h.s3.put(BUCKET, evilName.s3_data_key, evil.data);
  await h.s3.put(BUCKET, evilName.s3_metadata_key, evil.metadata);
  const good2 = await h.upload(random(5000));

  const cases: [unknown, RegExp][] = [
    [wrongKey, /^decrypt_failed: cannot unwrap the data key/],
    [tampered, /^decrypt_failed: authentication tag mismatch/],
    [missing, /^object_missing: .*does not exist \(NoSuchKey\)/],
    [traversal, /^unsafe_path: s3_data_key/],
    [absolute, /^unsafe_path: s3_metadata_key/],
    [climbingUuid, /^invalid_event: .*file_uuid/],
    [noEmail, /^invalid_event: .*email/],
    [evilName, /^unsafe_path: .*original_filename/],
    ["{not json", /^invalid_event: the message is not JSON/],
  ];
  await h.publish(good1);
  for (const [payload] of cases) await h.publish(payload);
  // A newer producer's event with fields unknown here is processed, not refused.
  await h.publish({ ...good2, region: "eu-west", retention: { days: 3 } });

  await using run = await runRole(h, sectionFor(h));
  await waitFor(async () => (await h.dlqEntries()).length >= cases.length, 60_000, "DLQ entries");
  await waitFor(
    async () => (await h.handlerLog()).filter((l) => l.startsWith("done")).length >= 2,
    60_000,
    "good events processed",
  );
  await waitFor(async () => (await consumerState(h)).ackPending === 0, 30_000, "nothing pending");
  const entries = await h.dlqEntries();
  assertEquals(entries.length, cases.length);
  for (const [payload, reason] of cases) {
    const data = typeof payload === "string" ? payload : JSON.stringify(payload);
    const entry = entries.find((e) => e.data === data);
    assert(entry, `a DLQ entry with the original payload ${data}`);
    assertMatch(entry.reason, reason);
    assertEquals(entry.deliveries, "1", "never retried");
  }
  // Nothing pending (waited for above) means every term took, also on 2.9, which ignores a term
  // with a reason: a message whose term was ignored stays pending until ack_wait.
  assertEquals(
    run.metrics.counter("upload_retried_total", "").get({ reason: "decrypt_failed" }),
    0,
  );
  assertEquals(run.metrics.counter("upload_failed_total", "").get({ reason: "decrypt_failed" }), 2);
  assertEquals(run.metrics.counter("upload_processed_total", "").get(), 2);
  const done = (await h.handlerLog()).filter((l) => l.startsWith("done")).sort();
  assertEquals(done, [`done ${good1.event_id}`, `done ${good2.event_id}`].sort());
  // Nothing escaped: no file outside the download dir.
  for (const f of ["evil.sh", "../evil.sh"]) {
    assertEquals(await Deno.stat(`${h.dir}/${f}`).catch(() => null), null);
  }
});

Deno.test("upload_processor: exit 75 twice then 0 → handled after two naks, processed once", async () => {
  await using h = await harness();
  const event = await h.upload(random(2000));
  await h.publish(event);
  const section = sectionFor(h);
  (section.handler.env as Record<string, string>).RETRIES_BEFORE_OK = "2";
  await using run = await runRole(h, section);
  await waitFor(async () => (await h.handlerLog()).includes(`done ${event.event_id}`), 30_000);
  await waitFor(async () => (await consumerState(h)).ackPending === 0, 30_000, "acked");
  const log = await h.handlerLog();
  assertEquals(log, [
    `start ${event.event_id}`,
    `start ${event.event_id}`,
    `start ${event.event_id}`,
    `done ${event.event_id}`,
  ]);
  assertEquals(
    run.metrics.counter("upload_retried_total", "").get({ reason: "handler_failed" }),
    2,
  );
  assertEquals(run.metrics.counter("upload_processed_total", "").get(), 1);
  assertEquals((await h.dlqEntries()).length, 0);
});

Deno.test("upload_processor: an event already in the dedupe bucket is acked without running the handler", async () => {
  await using h = await harness();
  const seen = await h.upload(random(100));
  const fresh = await h.upload(random(100));
  // Two days of TTL: the role opens the bucket as it finds it.
  const kv = await new Kvm(h.nc).create("jetport_processed", { ttl: 2 * 86_400_000 });
  await kv.put(seen.event_id, "{}");
  await h.publish(seen);
  await h.publish(fresh);
  await using run = await runRole(h, sectionFor(h));
  await waitFor(async () => (await h.handlerLog()).includes(`done ${fresh.event_id}`), 30_000);
  await waitFor(async () => (await consumerState(h)).ackPending === 0, 30_000, "acked");
  assertEquals(await h.handlerLog(), [`start ${fresh.event_id}`, `done ${fresh.event_id}`]);
  assertEquals(run.metrics.counter("upload_duplicates_total", "").get(), 1);
  assert((await kv.get(fresh.event_id))?.operation === "PUT", "success recorded in the bucket");
  const result = await waitFor(() =>
    h.jsm.streams.getMessage("RESULTS", { seq: 1 }).catch(() => undefined)
  );
  const body = result.json<Record<string, unknown>>();
  assertEquals(Object.keys(body).sort(), ["duration_ms", "event_id", "file_uuid", "status"]);
  assertEquals([body.event_id, body.file_uuid, body.status], [
    fresh.event_id,
    fresh.file_uuid,
    "processed",
  ]);
});

Deno.test("upload_processor: without a DLQ a bad event is terminated, not redelivered", async () => {
  await using h = await harness();
  await h.publish("{not json");
  const good = await h.upload(random(100));
  await h.publish(good);
  await using run = await runRole(h, sectionFor(h), false);
  await waitFor(async () => (await h.handlerLog()).includes(`done ${good.event_id}`), 30_000);
  // Not pending means terminated: an ignored term would leave it pending until ack_wait.
  await waitFor(async () => (await consumerState(h)).ackPending === 0, 30_000, "terminated");
  assertEquals(run.metrics.counter("upload_failed_total", "").get({ reason: "invalid_event" }), 1);
  assertEquals(run.metrics.counter("upload_retried_total", "").get({ reason: "invalid_event" }), 0);
});

Deno.test("upload_processor: a wrong S3 secret gets 403 and is retried, never dead-lettered; the right one processes it", async () => {
  await using h = await harness({ verifySignatures: true });
  // The signature covers the encoded key: '@', spaces, parentheses and non-ASCII included.
  const event = await h.upload(random(3000), "résumé final (1).pdf");
  await h.publish(event);
  const wrong = sectionFor(h);
  wrong.s3 = { ...wrong.s3, secret_access_key: "not-the-secret" };
  {
    await using run = await runRole(h, wrong);
    const retried = () =>
      run.metrics.counter("upload_retried_total", "").get({ reason: "s3_error" });
    await waitFor(() => retried() >= 2, 30_000, "403s retried");
    await run.stop();
    assertEquals(run.metrics.counter("upload_failed_total", "").get({ reason: "s3_error" }), 0);
  }
  assertEquals(await h.handlerLog(), []);
  assertEquals(await h.dlqEntries(), []);
  await using run = await runRole(h, sectionFor(h));
  await waitFor(async () => (await h.handlerLog()).includes(`done ${event.event_id}`), 30_000);
  await waitFor(async () => (await consumerState(h)).ackPending === 0, 30_000, "acked");
  assertEquals(run.metrics.counter("upload_processed_total", "").get(), 1);
  assertEquals((await h.dlqEntries()).length, 0);
});
