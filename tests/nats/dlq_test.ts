import { connect } from "@nats-io/transport-node";
import { headers } from "@nats-io/nats-core";
import { jetstream, jetstreamManager, RetentionPolicy } from "@nats-io/jetstream";
import { assert, assertEquals, assertRejects } from "../helpers/assert.ts";
import { startNatsServer } from "../helpers/nats_server.ts";
import { configSchema } from "../../src/roles/schemas.ts";
import {
  deadLetter,
  deadLetterHeaders,
  DLQ_HEADERS,
  DlqStreamError,
  dlqTarget,
  ensureDlqStream,
  provenanceOf,
  redriveHeaders,
  redriveMsgId,
} from "../../src/nats/dlq.ts";
import { createPublisher } from "../../src/nats/publisher.ts";
import { getOriginal, withoutDirectGetMetadata } from "../../src/nats/msg_get.ts";

const target = { stream: "DLQ", subjectPrefix: "dlq" };

function entries(h: { keys(): string[]; values(k: string): string[] } | undefined) {
  return (h?.keys() ?? []).map((k) => [k, h!.values(k)]);
}

Deno.test("dlqTarget: from the dlq_redriver section; undefined without it or when disabled", () => {
  assertEquals(dlqTarget(configSchema.parse({})), undefined);
  assertEquals(dlqTarget(configSchema.parse({ roles: { dlq_redriver: {} } })), target);
  assertEquals(
    dlqTarget(
      configSchema.parse({ roles: { dlq_redriver: { dlq_stream: "X_DLQ", subject_prefix: "x" } } }),
    ),
    { stream: "X_DLQ", subjectPrefix: "x" },
  );
  assertEquals(
    dlqTarget(configSchema.parse({ roles: { dlq_redriver: { enabled: false } } })),
    undefined,
  );
});

Deno.test("deadLetterHeaders: original headers kept, controls dropped, provenance added", () => {
  const h = headers();
  h.append("X-Trace", "a");
  h.append("X-Trace", "b");
  h.set("Nats-Msg-Id", "orig-1");
  h.set("Nats-Expected-Last-Sequence", "7");
  h.set("Jetport-Dlq-Redrives", "2");
  const out = deadLetterHeaders({
    stream: "S",
    consumer: "c",
    subject: "s.x",
    seq: 42,
    deliveries: 3,
    reason: "boom\nline two",
    data: new Uint8Array([1]),
    headers: h,
    failedAt: new Date("2024-01-02T03:04:05.000Z"),
  });
  assertEquals(out.values("X-Trace"), ["a", "b"]);
  assert(!out.has("Nats-Msg-Id") && !out.has("Nats-Expected-Last-Sequence"));
  assertEquals(out.get(DLQ_HEADERS.msgId), "orig-1");
  assertEquals(provenanceOf(out), {
    stream: "S",
    consumer: "c",
    subject: "s.x",
    seq: 42,
    deliveries: 3,
    reason: "boom line two",
    failedAt: "2024-01-02T03:04:05.000Z",
    redrives: 2,
    missing: false,
  });
  // A redrive carries the original headers, no provenance, and one more redrive.
  const back = redriveHeaders(out);
  assertEquals(entries(back), [["X-Trace", ["a", "b"]], [DLQ_HEADERS.redrives, ["3"]]]);
});

Deno.test("deadLetter: stored once per (stream, seq), payload and headers byte-identical", async () => {
  await using nats = await startNatsServer();
  const nc = await connect({ servers: nats.url });
  try {
    const jsm = await jetstreamManager(nc);
    const js = jetstream(nc);
    await jsm.streams.add({
      name: "WORK",
      subjects: ["work.>"],
      retention: RetentionPolicy.Workqueue,
      allow_direct: true,
    });
    const info = await ensureDlqStream(jsm, {
      target,
      maxAge: 86_400_000,
      replicas: 1,
      duplicateWindow: 3_600_000,
    });
    assertEquals(info.config.subjects, ["dlq.>"]);
    assertEquals(info.config.retention, RetentionPolicy.Limits);
    assertEquals(info.config.max_age, 86_400_000 * 1_000_000);
    // A second call finds it and leaves it alone.
    await ensureDlqStream(jsm, { target, maxAge: 1, replicas: 1, duplicateWindow: 1 });

    const payload = new Uint8Array([0, 1, 2, 255, 10, 13, 0x7b]);
    const h = headers();
    h.set("Content-Type", "application/octet-stream");
    h.append("X-Multi", "one");
    h.append("X-Multi", "two");
    const ack = await js.publish("work.a", payload, { headers: h, msgID: "producer-1" });

    for (const direct of [true, false]) {
      const original = await getOriginal(jsm, "WORK", ack.seq, direct);
      assert(original, `direct=${direct}: message found`);
      assertEquals(original.subject, "work.a");
      assertEquals([...original.data], [...payload]);
      assertEquals(entries(original.headers), [
        ["Content-Type", ["application/octet-stream"]],
        ["X-Multi", ["one", "two"]],
        ["Nats-Msg-Id", ["producer-1"]],
      ]);
    }
    const original = (await getOriginal(jsm, "WORK", ack.seq, true))!;
    const letter = {
      stream: "WORK",
      consumer: "worker",
      subject: original.subject,
      seq: ack.seq,
      deliveries: 3,
      reason: "max deliveries reached",
      data: original.data,
      headers: original.headers,
    };
    const first = await deadLetter(js, target, letter);
    const again = await deadLetter(js, target, letter);
    assertEquals(first.stream, "DLQ");
    assert(!first.duplicate && again.duplicate, "the repeated capture is dropped");
    assertEquals((await jsm.streams.info("DLQ")).state.messages, 1);

    const stored = (await jsm.streams.getMessage("DLQ", { seq: first.seq }))!;
    assertEquals(stored.subject, "dlq.WORK.worker");
    assertEquals([...stored.data], [...payload]);
    assertEquals(stored.header.values("X-Multi"), ["one", "two"]);
    assertEquals(stored.header.get("Content-Type"), "application/octet-stream");
    assertEquals(stored.header.get(DLQ_HEADERS.msgId), "producer-1");
    const p = provenanceOf(stored.header)!;
    assertEquals([p.stream, p.consumer, p.subject, p.seq, p.deliveries, p.redrives], [
      "WORK",
      "worker",
      "work.a",
      ack.seq,
      3,
      0,
    ]);
    assertEquals(redriveMsgId("WORK", ack.seq, 1), `jetport-redrive:WORK:${ack.seq}:1`);

    // The original gone (acked away): getOriginal says so; a provenance-only entry records it.
    await jsm.streams.deleteMessage("WORK", ack.seq);
    assertEquals(await getOriginal(jsm, "WORK", ack.seq, true), undefined);
    assertEquals(await getOriginal(jsm, "WORK", ack.seq, false), undefined);
    const gone = await deadLetter(js, target, {
      stream: "WORK",
      consumer: "other",
      subject: "",
      seq: 999,
      deliveries: 5,
      reason: "max deliveries reached",
    });
    const goneMsg = (await jsm.streams.getMessage("DLQ", { seq: gone.seq }))!;
    assertEquals(goneMsg.data.length, 0);
    assert(provenanceOf(goneMsg.header)!.missing);

    // Through jetport's fast publisher: same format, same dedupe by (stream, seq).
    const publisher = createPublisher(nc);
    const viaPublisher = await deadLetter(publisher, target, { ...letter, seq: 1000 });
    assert(!viaPublisher.duplicate);
    const again2 = await deadLetter(publisher, target, { ...letter, consumer: "other", seq: 999 });
    assert(again2.duplicate, "same (stream, seq) as the provenance-only entry");
    const stored2 = (await jsm.streams.getMessage("DLQ", { seq: viaPublisher.seq }))!;
    assertEquals([...stored2.data], [...payload]);
    assertEquals(stored2.header.values("X-Multi"), ["one", "two"]);
    await publisher.close();
  } finally {
    await nc.close();
  }
});

Deno.test("ensureDlqStream: an existing stream that does not take <prefix>.> is an error", async () => {
  await using nats = await startNatsServer();
  const nc = await connect({ servers: nats.url });
  try {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: "DLQ", subjects: ["other.>"] });
    const err = await assertRejects(
      () => ensureDlqStream(jsm, { target, maxAge: 1000, replicas: 1, duplicateWindow: 1000 }),
      DlqStreamError,
    );
    assert(err.message.includes("dlq.>"), err.message);
    // A stream already on dlq.> under another name: creation fails with a hint.
    const err2 = await assertRejects(
      () =>
        ensureDlqStream(jsm, {
          target: { stream: "DLQ2", subjectPrefix: "other" },
          maxAge: 1000,
          replicas: 1,
          duplicateWindow: 1000,
        }),
      DlqStreamError,
    );
    assert(err2.message.includes("DLQ2"), err2.message);
  } finally {
    await nc.close();
  }
});

Deno.test("withoutDirectGetMetadata: only the server's trailing values are removed", () => {
  const h = headers();
  h.append("Nats-Subject", "mine");
  h.append("A", "1");
  h.append("Nats-Subject", "server");
  h.append("Nats-Stream", "S");
  assertEquals(entries(withoutDirectGetMetadata(h)), [["Nats-Subject", ["mine"]], ["A", ["1"]]]);
});
