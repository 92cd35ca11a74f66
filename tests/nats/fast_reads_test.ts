/**
 * Messages read as plain `Uint8Array`s, before and after a reconnect, against a real nats-server.
 */
import { connect } from "@nats-io/transport-node";
import type { Msg, NatsConnection } from "@nats-io/nats-core";
import { assertEquals, waitFor } from "../helpers/assert.ts";
import { startNatsServer } from "../helpers/nats_server.ts";
import { fastReads } from "../../src/nats/fast_reads.ts";

/** The next message on `subject`, published by `nc` itself once subscribed. */
async function roundTrip(nc: NatsConnection, subject: string, text: string): Promise<Msg> {
  const sub = nc.subscribe(subject, { max: 1 });
  await nc.flush();
  nc.publish(subject, text);
  for await (const msg of sub) return msg;
  throw new Error(`no message on ${subject}`);
}

const isPlain = (b: Uint8Array) => Object.getPrototypeOf(b) === Uint8Array.prototype;

Deno.test("fastReads: message data is a plain Uint8Array, also after a reconnect (nats.js alone: a Buffer)", async () => {
  await using nats = await startNatsServer();
  const plain = await connect({ servers: nats.url, reconnectTimeWait: 50 });
  const untouched = await connect({ servers: nats.url });
  fastReads(plain);
  try {
    const before = await roundTrip(plain, "a", "one");
    const other = await roundTrip(untouched, "b", "two");
    assertEquals([isPlain(before.data), before.string()], [true, "one"]);
    assertEquals([isPlain(other.data), other.string()], [false, "two"]);

    let reconnected = false;
    (async () => {
      for await (const s of plain.status()) if (s.type === "reconnect") reconnected = true;
    })();
    await nats.stop();
    await nats.restart();
    await waitFor(() => reconnected, 20_000, "the reconnect");
    const after = await roundTrip(plain, "c", "three");
    assertEquals([isPlain(after.data), after.string()], [true, "three"]);
  } finally {
    await Promise.all([plain.close(), untouched.close().catch(() => {})]);
  }
});
