import { assert, assertEquals, waitFor } from "../../helpers/assert.ts";
import { parseAckSubject } from "../../../src/roles/upload_processor/pulled.ts";
import { harness, runRole, sectionFor } from "./harness.ts";

Deno.test("parseAckSubject: both ack subject forms; anything else is not a delivery", () => {
  const info = {
    stream: "FILE_UPLOADS",
    consumer: "file_processor",
    deliveryCount: 2,
    streamSequence: 7,
  };
  assertEquals(
    parseAckSubject("$JS.ACK.FILE_UPLOADS.file_processor.2.7.7.1769394113840000000.0"),
    info,
  );
  assertEquals(
    parseAckSubject(
      "$JS.ACK._.ACCHASH.FILE_UPLOADS.file_processor.2.7.7.1769394113840000000.0.xyz",
    ),
    info,
  );
  assertEquals(parseAckSubject("_INBOX.abc"), undefined);
  assertEquals(parseAckSubject(undefined), undefined);
  assertEquals(parseAckSubject("$JS.ACK.S.c.x.7.7.1.0"), undefined);
});

Deno.test("upload_processor: a process never holds more events than its workers plus as many finishing behind them", async () => {
  await using h = await harness();
  for (let i = 0; i < 8; i++) await h.publish(await h.upload(new TextEncoder().encode(`f${i}`)));
  const section = sectionFor(h, { concurrency: 2 });
  (section.handler.env as Record<string, string>).SLEEP = "0.5";
  await using run = await runRole(h, section);
  let maxHeld = 0;
  await waitFor(
    async () => {
      const info = await h.jsm.consumers.info("FILE_UPLOADS", "file_processor");
      maxHeld = Math.max(maxHeld, info.num_ack_pending);
      return info.num_pending === 0 && info.num_ack_pending === 0;
    },
    60_000,
    "all 8 processed",
  );
  assert(maxHeld >= 1, "the sampling saw work in progress");
  // Two being worked on, two whose `done`, result and ack are still on their way.
  assert(maxHeld <= 4, `held ${maxHeld} unacked events with 2 workers`);
  assertEquals(run.metrics.counter("upload_processed_total", "").get(), 8);
  assertEquals((await h.handlerLog()).filter((l) => l.startsWith("start")).length, 8);
});
