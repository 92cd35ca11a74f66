/** Socket writes once per turn of the event loop, against a real nats-server. */
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/nats-core";
import { assertEquals, waitFor } from "../helpers/assert.ts";
import { startNatsServer } from "../helpers/nats_server.ts";
import { coalesceWrites } from "../../src/nats/coalesced_writes.ts";

/** Counts the socket writes of `nc` from now on. */
function countWrites(nc: NatsConnection): () => number {
  const transport = (nc as unknown as { protocol: { transport: { send(d: Uint8Array): void } } })
    .protocol.transport;
  const send = transport.send.bind(transport);
  let writes = 0;
  transport.send = (d) => {
    writes++;
    send(d);
  };
  return () => writes;
}

/** Publishes `n` messages, each from the next link of one promise chain (one turn of the loop). */
async function publishAlongAChain(nc: NatsConnection, subject: string, name: string, n: number) {
  let chain = Promise.resolve();
  for (let i = 0; i < n; i++) chain = chain.then(() => nc.publish(subject, `${name} ${i}`));
  await chain;
}

Deno.test("coalesceWrites: what one turn of the event loop publishes goes out in one write (nats.js alone: one per message)", async () => {
  await using nats = await startNatsServer();
  const plain = await connect({ servers: nats.url });
  const coalesced = await connect({ servers: nats.url });
  coalesceWrites(coalesced);
  const sub = await connect({ servers: nats.url });
  try {
    const got: string[] = [];
    sub.subscribe("chain", { callback: (_err, msg) => void got.push(msg.string()) });
    await sub.flush();
    await plain.flush();
    await coalesced.flush();
    const plainWrites = countWrites(plain);
    const coalescedWrites = countWrites(coalesced);
    // One connection after the other: the server orders messages per connection, not across them.
    await publishAlongAChain(plain, "chain", "plain", 5);
    await waitFor(() => got.length === 5, 10_000, "the plain connection's five messages");
    await publishAlongAChain(coalesced, "chain", "coalesced", 5);
    await waitFor(() => got.length === 10, 10_000, "the coalesced connection's five messages");
    const expected = ["plain", "coalesced"].flatMap((name) =>
      [0, 1, 2, 3, 4].map((i) => `${name} ${i}`)
    );
    assertEquals(got, expected);
    assertEquals([plainWrites(), coalescedWrites()], [5, 1]);
  } finally {
    await Promise.all([plain.close(), coalesced.close(), sub.close()]);
  }
});

Deno.test("coalesceWrites: a close right after a publish still sends it", async () => {
  await using nats = await startNatsServer();
  const nc = await connect({ servers: nats.url });
  coalesceWrites(nc);
  const sub = await connect({ servers: nats.url });
  try {
    const got: string[] = [];
    sub.subscribe("last", { callback: (_err, msg) => void got.push(msg.string()) });
    await sub.flush();
    nc.publish("last", "words");
    await nc.close();
    await waitFor(() => got.length === 1, 10_000, "the message published before the close");
    assertEquals(got, ["words"]);
  } finally {
    await sub.close();
  }
});
