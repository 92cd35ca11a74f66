import { connect } from "@nats-io/transport-node";
import { headers } from "@nats-io/nats-core";
import {
  AckPolicy,
  jetstream,
  jetstreamManager,
  type JsMsg,
  RetentionPolicy,
} from "@nats-io/jetstream";
import { assert, assertEquals, waitFor } from "../helpers/assert.ts";
import { startNatsServer } from "../helpers/nats_server.ts";
import { ensureDlqStream, provenanceOf } from "../../src/nats/dlq.ts";
import { deadLetterOrTerminate } from "../../src/nats/dead_letter_or_terminate.ts";

const target = { stream: "DLQ", subjectPrefix: "dlq" };

Deno.test("deadLetterOrTerminate: copies to the DLQ then terms; naks when the DLQ refuses; terms without a DLQ", async () => {
  await using nats = await startNatsServer();
  const nc = await connect({ servers: nats.url });
  try {
    const jsm = await jetstreamManager(nc);
    const js = jetstream(nc);
    await jsm.streams.add({
      name: "JOBS",
      subjects: ["jobs.>"],
      retention: RetentionPolicy.Workqueue,
    });
    // One message in flight at a time: a naked jobs.a comes back before jobs.b is delivered.
    await jsm.consumers.add("JOBS", {
      durable_name: "w",
      ack_policy: AckPolicy.Explicit,
      max_ack_pending: 1,
    });
    const h = headers();
    h.append("X-A", "1");
    h.append("X-A", "2");
    const data = new Uint8Array([0, 1, 255]);
    await js.publish("jobs.a", data, { headers: h });
    await js.publish("jobs.b", new Uint8Array([7]));
    const consumer = await js.consumers.get("JOBS", "w");
    const next = async (): Promise<JsMsg> => {
      const m = await consumer.next({ expires: 5000 });
      assert(m, "a message is delivered");
      return m;
    };
    const serverVersion = nc.info?.version;
    const publisher = js;

    // The DLQ stream does not exist yet: the copy is refused, the message comes back.
    const first = await next();
    const refused = await deadLetterOrTerminate(first, "bad", {
      dlq: { publisher, target },
      retryDelay: 0,
      serverVersion,
    });
    assertEquals(refused.kind, "retry");
    const again = await next();
    assertEquals(again.seq, first.seq, "the refused message is redelivered");
    assertEquals(again.info.deliveryCount, 2);

    await ensureDlqStream(jsm, { target, maxAge: 0, replicas: 1, duplicateWindow: 60_000 });
    const stored = await deadLetterOrTerminate(again, "bad payload", {
      dlq: { publisher, target },
      retryDelay: 0,
      serverVersion,
    });
    assertEquals(stored.kind, "dead_lettered");
    const entry = await jsm.streams.getMessage("DLQ", { seq: 1 });
    assert(entry);
    assertEquals([...entry.data], [...data]);
    assertEquals(entry.header.values("X-A"), ["1", "2"]);
    const p = provenanceOf(entry.header)!;
    assertEquals([p.stream, p.consumer, p.subject, p.seq, p.deliveries], [
      "JOBS",
      "w",
      "jobs.a",
      1,
      2,
    ]);
    assertEquals(p.reason, "bad payload");

    // No DLQ: terminated only.
    const second = await next();
    assertEquals(second.seq, 2);
    const dropped = await deadLetterOrTerminate(second, "bad", {
      dlq: undefined,
      retryDelay: 0,
      serverVersion,
    });
    assertEquals(dropped.kind, "terminated");
    // Both terms remove their messages from the work queue; only the first has a DLQ copy.
    await waitFor(
      async () => (await jsm.streams.info("JOBS")).state.messages === 0,
      10_000,
      "JOBS empty",
    );
    assertEquals((await jsm.streams.info("DLQ")).state.messages, 1);
  } finally {
    await nc.close();
  }
});
