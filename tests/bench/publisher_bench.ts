/**
 * Publisher throughput: jetport's windowed publisher vs. awaited `js.publish` with a 1000-promise
 * window, same server, same stream, same run, without and with order keys (one per file, as the
 * watcher publishes). Target: ≥ 5× the baseline.
 * @module
 */
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/nats-core";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { startNatsServer } from "../helpers/nats_server.ts";
import { createPublisher } from "../../src/nats/publisher.ts";
import type { Bench } from "./run.ts";

const MESSAGES = Number(Deno.env.get("BENCH_PUBLISH_MESSAGES") ?? 100_000);
const WINDOW = 1000;
const PAYLOAD = new TextEncoder().encode(JSON.stringify({ path: "a/b/c.txt", size: 1234 }));

async function resetStream(nc: NatsConnection) {
  const jsm = await jetstreamManager(nc);
  await jsm.streams.delete("BENCH").catch(() => {});
  await jsm.streams.add({ name: "BENCH", subjects: ["bench.>"] });
}

async function awaitedJsPublish(nc: NatsConnection): Promise<number> {
  const js = jetstream(nc);
  const t0 = performance.now();
  const inFlight = new Set<Promise<unknown>>();
  for (let i = 0; i < MESSAGES; i++) {
    const p = js.publish("bench.js", PAYLOAD, { msgID: `js-${i}` });
    inFlight.add(p);
    p.finally(() => inFlight.delete(p));
    if (inFlight.size >= WINDOW) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  return performance.now() - t0;
}

/** Distinct order keys in the ordered run, as if this many files changed (the watcher's case). */
const FILES = 5000;

async function jetportPublisher(nc: NatsConnection, ordered = false): Promise<number> {
  const pub = createPublisher(nc, { window: WINDOW });
  const t0 = performance.now();
  let failed = 0;
  for (let i = 0; i < MESSAGES; i++) {
    if (pub.inFlight >= WINDOW) await pub.room();
    pub.publish({
      subject: "bench.jetport",
      data: PAYLOAD,
      msgId: `jp-${i}`,
      orderKeys: ordered ? [`file-${i % FILES}`] : undefined,
    }).catch(() => failed++);
  }
  await pub.flush();
  const ms = performance.now() - t0;
  await pub.close();
  if (failed) throw new Error(`${failed} publishes failed`);
  return ms;
}

const bench: Bench = {
  name: "publisher",
  async run() {
    await using server = await startNatsServer();
    const nc = await connect({ servers: server.url });
    await resetStream(nc);
    const baselineMs = await awaitedJsPublish(nc);
    await resetStream(nc);
    const jetportMs = await jetportPublisher(nc);
    const stored = (await (await jetstreamManager(nc)).streams.info("BENCH")).state.messages;
    await resetStream(nc);
    const orderedMs = await jetportPublisher(nc, true);
    await nc.close();
    const rate = (ms: number) => Math.round(MESSAGES / (ms / 1000));
    return [{
      title: `JetStream publish, ${MESSAGES} msgs of ${PAYLOAD.length} B, window ${WINDOW}`,
      columns: ["client", "seconds", "msgs/s", "× baseline"],
      rows: [
        ["js.publish awaited (baseline)", baselineMs / 1000, rate(baselineMs), 1],
        ["jetport publisher", jetportMs / 1000, rate(jetportMs), baselineMs / jetportMs],
        [
          `jetport publisher, ${FILES} order keys`,
          orderedMs / 1000,
          rate(orderedMs),
          baselineMs / orderedMs,
        ],
      ],
      notes: [`target: ≥ 5× baseline; stored by jetport publisher: ${stored}/${MESSAGES}`],
    }];
  },
};
export default bench;
