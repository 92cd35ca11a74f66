/**
 * The durable pull loop against a real server: batches reach `handle`, a consumer deleted under
 * it is recreated by `prepare` and consumption goes on, a server restart is ridden out, a stop
 * gives back what arrived behind the batch in hand, and fatal errors end the loop through
 * `closed`.
 */
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/nats-core";
import {
  AckPolicy,
  jetstream,
  type JetStreamManager,
  jetstreamManager,
  type JsMsg,
} from "@nats-io/jetstream";
import { assert, assertEquals, assertRejects, waitFor } from "../helpers/assert.ts";
import { startNatsServer } from "../helpers/nats_server.ts";
import { logger } from "../../src/platform/logging.ts";
import { isConsumerNotFound } from "../../src/nats/errors.ts";
import {
  type DurableConsumerOptions,
  startDurableConsumer,
} from "../../src/nats/durable_consumer.ts";

/** A client connection that reconnects forever (the loop rides out restarts on it). */
async function client(url: string): Promise<
  { nc: NatsConnection; jsm: JetStreamManager } & AsyncDisposable
> {
  const nc = await connect({ servers: url, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
  return { nc, jsm: await jetstreamManager(nc), [Symbol.asyncDispose]: () => nc.close() };
}

async function publish(nc: NatsConnection, from: number, to: number): Promise<void> {
  const js = jetstream(nc);
  for (let i = from; i < to; i++) await js.publish("ev", `m${i}`);
}

/** Options for a loop over `S/C` that creates the consumer when it is missing. */
function options(
  nc: NatsConnection,
  handle: DurableConsumerOptions["handle"],
  counts: { prepared: number },
): DurableConsumerOptions {
  return {
    nats: { ready: Promise.resolve(nc) },
    stream: "S",
    consumer: "C",
    batch: 50,
    log: logger("test"),
    async prepare({ jsm }) {
      counts.prepared++;
      await jsm.consumers.info("S", "C").catch(async (err) => {
        if (!isConsumerNotFound(err)) throw err;
        await jsm.consumers.add("S", { durable_name: "C", ack_policy: AckPolicy.Explicit });
      });
    },
    handle,
  };
}

Deno.test("durable consumer: batches reach handle; a deleted consumer is recreated and a restart ridden out", async () => {
  await using server = await startNatsServer();
  await using c = await client(server.url);
  await c.jsm.streams.add({ name: "S", subjects: ["ev"] });
  const seen = new Set<string>();
  let largest = 0;
  const counts = { prepared: 0 };
  await publish(c.nc, 0, 200);
  await using consumer = startDurableConsumer(options(c.nc, (batch) => {
    largest = Math.max(largest, batch.length);
    for (const m of batch) {
      seen.add(m.string());
      m.ack();
    }
  }, counts));
  await waitFor(() => seen.size === 200, 20_000, "200 handled");
  assert(largest > 1 && largest <= 50, `batches of 2..50 messages (largest ${largest})`);
  assertEquals(consumer.notReadyReason(), undefined);

  await c.jsm.consumers.delete("S", "C");
  await publish(c.nc, 200, 210);
  await waitFor(() => seen.size === 210, 30_000, "handled after the consumer was recreated");
  assert(counts.prepared >= 2, "prepare ran again for the new pull");

  await server.restart();
  await waitFor(
    () => publish(c.nc, 210, 220).then(() => true, () => false),
    30_000,
    "published after the restart",
  );
  await waitFor(() => seen.size === 220, 30_000, "handled after the server restart");
  await consumer.stop();
  await consumer.closed;
});

Deno.test("durable consumer: stop finishes the batch in hand and naks what came behind it", async () => {
  await using server = await startNatsServer();
  await using c = await client(server.url);
  await c.jsm.streams.add({ name: "S", subjects: ["ev"] });
  // Messages already on their way when the pull is closed are not seen, so not naked: they come
  // back after ack_wait. A short one keeps the test quick.
  await c.jsm.consumers.add("S", {
    durable_name: "C",
    ack_policy: AckPolicy.Explicit,
    ack_wait: 2_000_000_000,
  });
  await publish(c.nc, 0, 20);
  let release!: () => void;
  const inHand = new Promise<void>((r) => (release = r));
  let started!: () => void;
  const handling = new Promise<void>((r) => (started = r));
  const acked: string[] = [];
  const counts = { prepared: 0 };
  const consumer = startDurableConsumer({
    ...options(c.nc, async (batch: JsMsg[]) => {
      const first = batch.slice(0, 1);
      started();
      await inHand;
      for (const m of first) {
        acked.push(m.string());
        m.ack();
      }
      for (const m of batch.slice(1)) m.nak();
    }, counts),
    batch: 1,
  });
  await handling;
  const stopped = consumer.stop();
  release();
  await stopped;
  assertEquals(acked, ["m0"], "only the batch in hand was handled");
  // What came behind it was given back: the next loop gets it.
  const next: string[] = [];
  await using _again = startDurableConsumer(options(c.nc, (batch) => {
    for (const m of batch) {
      next.push(m.string());
      m.ack();
    }
  }, counts));
  await waitFor(() => next.length >= 19, 10_000, "the other 19 delivered again");
  assertEquals(next.toSorted(), [...Array(19)].map((_, i) => `m${i + 1}`).toSorted());
});

Deno.test("durable consumer: a fatal prepare error and a throwing handle end the loop through closed", async () => {
  await using server = await startNatsServer();
  await using c = await client(server.url);
  await c.jsm.streams.add({ name: "S", subjects: ["ev"] });
  const counts = { prepared: 0 };

  const fatal = startDurableConsumer({
    ...options(c.nc, () => {}, counts),
    prepare: () => Promise.reject(new Error("a push consumer")),
    isFatal: (err) => (err as Error).message === "a push consumer",
  });
  assertEquals((await assertRejects(() => fatal.closed, Error)).message, "a push consumer");
  assertEquals(fatal.notReadyReason(), "a push consumer");
  await fatal.stop(); // safe after the loop ended

  await publish(c.nc, 0, 1);
  const failing = startDurableConsumer(
    options(c.nc, () => Promise.reject(new Error("disk full")), counts),
  );
  assertEquals((await assertRejects(() => failing.closed, Error)).message, "disk full");
});
