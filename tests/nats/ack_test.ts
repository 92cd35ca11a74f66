/** Ack helpers against a real nats-server. */
import { AckPolicy, jetstream, type JsMsg } from "@nats-io/jetstream";
import { assertEquals, waitFor } from "../helpers/assert.ts";
import { startNatsServer } from "../helpers/nats_server.ts";
import { ackEach } from "../../src/nats/ack.ts";
import { client, createFilesStream, fileEvent, publish } from "../roles/monitor/helpers.ts";

Deno.test("ackEach: acks exactly the messages given (an unacked one holds the ack floor)", async () => {
  await using nats = await startNatsServer();
  await using c = await client(nats.url);
  await createFilesStream(c.jsm);
  await c.jsm.consumers.add("FILES", { durable_name: "a", ack_policy: AckPolicy.Explicit });
  await publish(c.nc, Array.from({ length: 5 }, (_, i) => fileEvent("added", `a${i}.txt`)));
  const consumer = await jetstream(c.nc).consumers.get("FILES", "a");
  const msgs: JsMsg[] = [];
  for await (const m of await consumer.fetch({ max_messages: 5, expires: 5000 })) msgs.push(m);
  assertEquals(msgs.length, 5);

  ackEach(msgs.slice(1)); // the first one stays unacked: the floor must not pass it
  await waitFor(
    async () => (await c.jsm.consumers.info("FILES", "a")).num_ack_pending === 1,
    10_000,
    "four acked",
  );
  assertEquals((await c.jsm.consumers.info("FILES", "a")).ack_floor.stream_seq, 0);
  ackEach(msgs.slice(0, 1));
  await waitFor(
    async () => (await c.jsm.consumers.info("FILES", "a")).ack_floor.stream_seq === 5,
    10_000,
    "ack floor at 5",
  );
});
