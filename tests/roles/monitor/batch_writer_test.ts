/**
 * The monitor's batch writer against a real nats-server: group commit (batches handed over during
 * a flush are written together, once that flush is acked) and acks only after the flush.
 */
import { assertEquals, waitFor } from "../../helpers/assert.ts";
import { startNatsServer } from "../../helpers/nats_server.ts";
import { Registry } from "../../../src/http/metrics.ts";
import { logger } from "../../../src/platform/logging.ts";
import { openRotatingFile, type RotatingFile } from "../../../src/platform/rotating_file.ts";
import { createBatchWriter } from "../../../src/roles/monitor/batch_writer.ts";
import { parseFileEvent, textLine } from "../../../src/roles/monitor/event_line.ts";
import { monitorMetrics } from "../../../src/roles/monitor/metrics.ts";
import { createReacks } from "../../../src/roles/monitor/reacks.ts";
import { openWrittenRecord } from "../../../src/roles/monitor/written.ts";
import { client, deliveredEvents, readLines } from "./helpers.ts";

/** A log whose flushes wait until the test lets each one go, counting them. */
function gatedFile(file: RotatingFile) {
  const gates: PromiseWithResolvers<void>[] = [];
  const gated = {
    ...file,
    flushes: 0,
    async flush() {
      gated.flushes++;
      const gate = Promise.withResolvers<void>();
      gates.push(gate);
      await gate.promise;
      await file.flush();
    },
    release: () => gates.shift()!.resolve(),
  };
  return gated;
}

Deno.test("batch writer: batches handed over during a flush are written as one group, acked after it", async () => {
  await using nats = await startNatsServer();
  await using c = await client(nats.url);
  const msgs = await deliveredEvents(c, "w", 6, "g");

  const dir = await Deno.makeTempDir({ prefix: "jetport-batch-writer-" });
  const file = gatedFile(await openRotatingFile(`${dir}/m.log`, { maxSize: 1 << 20, keep: 1 }));
  const written = await openWrittenRecord(`${dir}/written`, { fsync: false, bootId: "b" });
  const writer = createBatchWriter({
    file,
    maxSize: 1 << 20,
    written,
    reacks: createReacks(),
    metrics: monitorMetrics(new Registry(), "FILES", "w"),
    log: logger("monitor"),
    format: (_msg, payload, _seq, received) => textLine(parseFileEvent(payload), received),
    dlq: undefined,
    serverVersion: () => undefined,
  }, 10);
  const ackPending = async () => (await c.jsm.consumers.info("FILES", "w")).num_ack_pending;

  await writer.write(msgs.slice(0, 2)); // idle: flushed at once
  assertEquals(file.flushes, 1);
  await writer.write(msgs.slice(2, 3)); // during that flush: waits as the next group
  await writer.write(msgs.slice(3, 6));
  assertEquals(file.flushes, 1);
  assertEquals(await ackPending(), 6, "nothing acked before its flush");

  file.release();
  await waitFor(() => file.flushes === 2, 10_000, "the next group's flush");
  await waitFor(async () => (await ackPending()) === 4, 10_000, "the first group acked");
  assertEquals((await readLines(`${dir}/m.log`)).length, 2);

  file.release();
  await writer.drain();
  assertEquals(file.flushes, 2, "the four later messages were one group");
  await waitFor(async () => (await ackPending()) === 0, 10_000, "all acked");
  const names = (await readLines(`${dir}/m.log`)).map((l) => /storage\/(\S+),/.exec(l)![1]);
  assertEquals(names, ["g0.txt", "g1.txt", "g2.txt", "g3.txt", "g4.txt", "g5.txt"]);
  await file.close();
  written.close();
  await Deno.remove(dir, { recursive: true });
});
