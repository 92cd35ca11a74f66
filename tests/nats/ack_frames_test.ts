/** Ack frames against a real nats-server: one write acks a group, frames sent again are no-ops. */
import type { NatsConnection } from "@nats-io/nats-core";
import { assertEquals, waitFor } from "../helpers/assert.ts";
import { startNatsServer } from "../helpers/nats_server.ts";
import { ackAll, ackSubjectSeq, sendAckFrames, streamSeq } from "../../src/nats/ack_frames.ts";
import { client, deliveredEvents } from "../roles/monitor/helpers.ts";

const bytes = (s: string) => new TextEncoder().encode(s);

Deno.test("ackSubjectSeq: the stream sequence of both ack subject layouts, -1 for others", () => {
  assertEquals(ackSubjectSeq(bytes("$JS.ACK.FILES.mon.1.4711.20.1733000000000000000.3")), 4711);
  assertEquals(
    ackSubjectSeq(bytes("$JS.ACK.hub.ACCHASH.FILES.mon.2.99.20.1733000000000000000.0.xyz")),
    99,
  );
  assertEquals(ackSubjectSeq(bytes("$JS.ACK._..FILES.mon.1.7.7.1.0")), 7);
  assertEquals(ackSubjectSeq(bytes("$JS.ACK.FILES.mon.1.x1.20.1.3")), -1);
  assertEquals(ackSubjectSeq(bytes("$JS.ACK.FILES.mon.1.2.3.4.5.6")), -1, "10 tokens");
  assertEquals(ackSubjectSeq(bytes("_INBOX.abc.1.2.3.4.5.6.7")), -1);
});

Deno.test("ackAll: acks exactly the messages given in one write; their frames sent again are no-ops", async () => {
  await using nats = await startNatsServer();
  await using c = await client(nats.url);
  const msgs = await deliveredEvents(c, "a", 5, "a");
  assertEquals(msgs.map(streamSeq), msgs.map((m) => m.seq));
  assertEquals(msgs.map(streamSeq), [1, 2, 3, 4, 5]);

  const frames = ackAll(msgs.slice(1)); // the first one stays unacked: the floor must not pass it
  assertEquals(
    new TextDecoder().decode(frames),
    msgs.slice(1).map((m) => `PUB ${(m as unknown as { reply: string }).reply} 4\r\n+ACK\r\n`)
      .join(""),
  );
  await waitFor(
    async () => (await c.jsm.consumers.info("FILES", "a")).num_ack_pending === 1,
    10_000,
    "four acked",
  );
  assertEquals((await c.jsm.consumers.info("FILES", "a")).ack_floor.stream_seq, 0);
  sendAckFrames(c.nc, frames);
  await c.nc.flush();
  assertEquals((await c.jsm.consumers.info("FILES", "a")).num_ack_pending, 1);
  ackAll(msgs.slice(0, 1));
  await waitFor(
    async () => (await c.jsm.consumers.info("FILES", "a")).ack_floor.stream_seq === 5,
    10_000,
    "ack floor at 5",
  );
});

Deno.test("sendAckFrames: acks what the frames name, through nats.js internals or one publish each", async () => {
  await using nats = await startNatsServer();
  await using c = await client(nats.url);
  const msgs = await deliveredEvents(c, "b", 3, "b");
  const frames = bytes(
    msgs.map((m) => `PUB ${(m as unknown as { reply: string }).reply} 4\r\n+ACK\r\n`).join(""),
  );
  // Without nats.js's protocol handler at hand: one publish per frame, on the same connection.
  const publishOnly = {
    isClosed: () => c.nc.isClosed(),
    publish: c.nc.publish.bind(c.nc),
  } as unknown as NatsConnection;
  sendAckFrames(
    publishOnly,
    frames.subarray(0, frames.indexOf(0x0a, frames.indexOf(0x0a) + 1) + 1),
  );
  await waitFor(
    async () => (await c.jsm.consumers.info("FILES", "b")).ack_floor.stream_seq === 1,
    10_000,
    "ack floor at 1",
  );
  assertEquals((await c.jsm.consumers.info("FILES", "b")).num_ack_pending, 2);
  sendAckFrames(c.nc, frames);
  await waitFor(
    async () => (await c.jsm.consumers.info("FILES", "b")).ack_floor.stream_seq === 3,
    10_000,
    "ack floor at 3",
  );
});
