import { connect } from "@nats-io/transport-node";
import { headers, type NatsConnection } from "@nats-io/nats-core";
import { jetstreamManager } from "@nats-io/jetstream";
import { assert, assertEquals, assertMatch, assertRejects, sleep } from "../helpers/assert.ts";
import { type NatsServer, startNatsServer } from "../helpers/nats_server.ts";
import { createPublisher, PublishError } from "../../src/nats/publisher.ts";
import { Registry } from "../../src/http/metrics.ts";

async function setup(server: NatsServer): Promise<NatsConnection> {
  const nc = await connect({
    servers: server.url,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 100,
  });
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: "ORDERS", subjects: ["orders.>"], duplicate_window: 60e9 });
  return nc;
}

async function streamCount(nc: NatsConnection): Promise<number> {
  const jsm = await jetstreamManager(nc);
  return (await jsm.streams.info("ORDERS")).state.messages;
}

Deno.test("publisher: every message is stored, in order, and the window is respected", async () => {
  await using server = await startNatsServer();
  const nc = await setup(server);
  const metrics = new Registry();
  const pub = createPublisher(nc, { window: 64, metrics, name: "test" });
  let maxInFlight = 0;
  const acks = [];
  for (let i = 0; i < 3000; i++) {
    acks.push(pub.publish({ subject: `orders.${i % 7}`, data: JSON.stringify({ i }) }));
    maxInFlight = Math.max(maxInFlight, pub.inFlight);
  }
  const results = await Promise.all(acks);
  assertEquals(results.map((a) => a.seq), results.map((_, i) => i + 1));
  assert(results.every((a) => a.stream === "ORDERS" && !a.duplicate));
  assert(maxInFlight <= 64, `in flight ${maxInFlight} > window`);
  assertEquals(await streamCount(nc), 3000);
  assertMatch(metrics.render(), /^jetport_publisher_published_total\{publisher="test"\} 3000$/m);
  await pub.close();
  await nc.close();
});

Deno.test("publisher: a repeated Nats-Msg-Id is reported as a duplicate and stored once", async () => {
  await using server = await startNatsServer();
  const nc = await setup(server);
  const metrics = new Registry();
  const pub = createPublisher(nc, { metrics });
  const first = await pub.publish({ subject: "orders.a", data: "x", msgId: "order-1" });
  const again = await pub.publish({ subject: "orders.a", data: "x", msgId: "order-1" });
  assertEquals(first.duplicate, false);
  assertEquals(again.duplicate, true);
  assertEquals(again.seq, first.seq);
  assertEquals(await streamCount(nc), 1);
  assertMatch(metrics.render(), /^jetport_publisher_duplicates_total\{publisher="default"\} 1$/m);
  await pub.close();
  await nc.close();
});

Deno.test("publisher: a stream error fails that message only, with the server's code", async () => {
  await using server = await startNatsServer();
  const nc = await setup(server);
  const pub = createPublisher(nc);
  await pub.publish({ subject: "orders.a", data: "1" });
  const h = headers();
  h.set("Nats-Expected-Last-Sequence", "42");
  const bad = pub.publish({ subject: "orders.a", data: "2", headers: h });
  const good = pub.publish({ subject: "orders.a", data: "3" });
  const err = await assertRejects(() => bad, PublishError);
  assertEquals(err.code, "stream_error");
  assertEquals(err.apiCode, 10071);
  assertMatch(err.message, /wrong last sequence/);
  assertEquals((await good).seq, 2);
  await pub.close();
  await nc.close();
});

Deno.test("publisher: a subject no stream captures fails at the deadline as no responders", async () => {
  await using server = await startNatsServer();
  const nc = await setup(server);
  const metrics = new Registry();
  const pub = createPublisher(nc, { deadline: 1000, metrics });
  const err = await assertRejects(
    () => pub.publish({ subject: "nobody.listens", data: "x" }),
    PublishError,
  );
  assertEquals(err.code, "deadline_exceeded");
  assertEquals(err.lastFailure, "no_responders");
  assert(err.attempts > 1, "retried before giving up");
  assertMatch(err.message, /no stream captures the subject/);
  assertMatch(
    metrics.render(),
    /publisher_failures_total\{publisher="default",code="deadline_exceeded"\} 1/,
  );
  await pub.close();
  await nc.close();
});

Deno.test("publisher: messages sent while the server restarts are stored exactly once", async () => {
  await using server = await startNatsServer();
  const nc = await setup(server);
  const metrics = new Registry();
  const pub = createPublisher(nc, { ackTimeout: 300, deadline: 30_000, metrics });
  await pub.publish({ subject: "orders.before", data: "0" });
  await server.stop();
  const acks = Array.from(
    { length: 200 },
    (_, i) => pub.publish({ subject: "orders.during", data: String(i), msgId: `m-${i}` }),
  );
  await new Promise((r) => setTimeout(r, 1500));
  await server.restart();
  const results = await Promise.all(acks);
  assertEquals(new Set(results.map((a) => a.seq)).size, 200);
  assertEquals(await streamCount(nc), 201);
  assertMatch(
    metrics.render(),
    /publisher_retries_total\{publisher="default",reason="timeout"\} [1-9]/,
  );
  await pub.close();
  await nc.close();
});

Deno.test("publisher: close(until) fails what is still unacknowledged as closed", async () => {
  await using server = await startNatsServer();
  const nc = await setup(server);
  const pub = createPublisher(nc, { window: 1, deadline: 60_000 });
  const stuck = pub.publish({ subject: "nobody.listens", data: "x" });
  const queued = pub.publish({ subject: "orders.a", data: "y" });
  assertEquals(pub.queued, 1);
  const outcomes = Promise.allSettled([stuck, queued]);
  await pub.close(Date.now() + 300);
  for (const outcome of await outcomes) {
    assert(outcome.status === "rejected" && outcome.reason instanceof PublishError);
    assertEquals(outcome.reason.code, "closed");
  }
  const after = await assertRejects(
    () => pub.publish({ subject: "orders.a", data: "z" }),
    PublishError,
  );
  assertEquals(after.code, "closed");
  await nc.close();
});

Deno.test("publisher: a message waits for the earlier one with its order key, so a retry cannot be overtaken", async () => {
  await using server = await startNatsServer();
  const nc = await setup(server);
  const jsm = await jetstreamManager(nc);
  const pub = createPublisher(nc, { ackTimeout: 200, deadline: 30_000 });
  // No stream captures "late.>" yet: the first message is retried (no responders) until it does.
  const first = pub.publish({ subject: "late.a", data: "first", orderKeys: ["file-a"] });
  const second = pub.publish({ subject: "orders.a", data: "second", orderKeys: ["file-a"] });
  const other = await pub.publish({ subject: "orders.b", data: "other", orderKeys: ["file-b"] });
  assertEquals(other.seq, 1, "another key is not held up");
  await jsm.streams.update("ORDERS", { subjects: ["orders.>", "late.>"] });
  assertEquals((await first).seq, 2);
  assertEquals((await second).seq, 3, "stored after the message published before it");
  await pub.close();
  await nc.close();
});

Deno.test("publisher: when a message fails at its deadline, those behind it on its order key fail as blocked, unsent", async () => {
  await using server = await startNatsServer();
  const nc = await setup(server);
  const pub = createPublisher(nc, { ackTimeout: 200, deadline: 1000 });
  const stuck = pub.publish({ subject: "nobody.listens", data: "1", orderKeys: ["a"] });
  // Behind it on "a" directly, and on "b" behind a message that waits on "a".
  const behind = pub.publish({ subject: "orders.a", data: "2", orderKeys: ["a", "b"] });
  const chained = pub.publish({ subject: "orders.b", data: "3", orderKeys: ["b"] });
  const free = pub.publish({ subject: "orders.c", data: "4", orderKeys: ["c"] });
  assertEquals((await assertRejects(() => stuck, PublishError)).code, "deadline_exceeded");
  for (const p of [behind, chained]) {
    const err = await assertRejects(() => p, PublishError);
    assertEquals(err.code, "blocked");
    assertEquals(err.attempts, 0);
  }
  assertEquals((await free).seq, 1);
  assertEquals(await streamCount(nc), 1, "nothing blocked was stored");
  // The keys are free again: publishing them anew works.
  assertEquals((await pub.publish({ subject: "orders.a", data: "2", orderKeys: ["a"] })).seq, 2);
  await pub.close();
  await nc.close();
});

Deno.test("publisher: a message the stream refuses releases the one behind it on its order key", async () => {
  await using server = await startNatsServer();
  const nc = await setup(server);
  const pub = createPublisher(nc);
  const h = headers();
  h.set("Nats-Expected-Last-Sequence", "42");
  const bad = pub.publish({ subject: "orders.a", data: "1", headers: h, orderKeys: ["a"] });
  const next = pub.publish({ subject: "orders.a", data: "2", orderKeys: ["a"] });
  assertEquals((await assertRejects(() => bad, PublishError)).code, "stream_error");
  assertEquals((await next).seq, 1);
  await pub.close();
  await nc.close();
});

Deno.test("publisher: messages of one order key stay in order while the server restarts", async () => {
  await using server = await startNatsServer();
  const nc = await setup(server);
  const pub = createPublisher(nc, { ackTimeout: 300, deadline: 30_000 });
  await server.stop();
  const acks = Array.from({ length: 300 }, (_, i) =>
    pub.publish({
      subject: "orders.x",
      data: String(i),
      msgId: `m-${i}`,
      orderKeys: [`file-${i % 10}`],
    }));
  // Down long enough for the first message of every key to time out and be retried.
  await sleep(1000);
  await server.restart();
  const seqs = (await Promise.all(acks)).map((a) => a.seq);
  for (let k = 0; k < 10; k++) {
    const mine = seqs.filter((_, i) => i % 10 === k);
    assertEquals(mine, [...mine].sort((a, b) => a - b), `file-${k} in publish order`);
  }
  assertEquals(await streamCount(nc), 300);
  await pub.close();
  await nc.close();
});

Deno.test("publisher: send() tells its callback each outcome, once, with the window and close respected", async () => {
  await using server = await startNatsServer();
  const nc = await setup(server);
  const pub = createPublisher(nc, { window: 16, deadline: 1000 });
  const outcomes: (number | string)[] = [];
  let maxInFlight = 0;
  for (let i = 0; i < 500; i++) {
    pub.send(
      { subject: "orders.a", data: `{"i":${i}}`, msgId: `send-${i}` },
      (err, ack) => outcomes[i] = err ? err.code : ack!.seq,
    );
    maxInFlight = Math.max(maxInFlight, pub.inFlight);
  }
  pub.send({ subject: "nobody.listens", data: "x" }, (err) => outcomes[500] = err!.code);
  await pub.flush();
  assertEquals(outcomes.slice(0, 500), outcomes.slice(0, 500).map((_, i) => i + 1));
  assertEquals(outcomes[500], "deadline_exceeded");
  assert(maxInFlight <= 16, `in flight ${maxInFlight} > window`);
  await pub.close();
  let after: unknown;
  pub.send({ subject: "orders.a", data: "z" }, (err) => after = err);
  assert(after instanceof PublishError && after.code === "closed");
  await nc.close();
});

Deno.test("publisher: messages the frame path does not write (own headers, unusual subject or id) are stored with their Nats-Msg-Id", async () => {
  await using server = await startNatsServer();
  const nc = await setup(server);
  const pub = createPublisher(nc);
  const h = headers();
  h.set("Jetport-Test", "yes");
  const sent = [
    { subject: "orders.plain", data: "a", msgId: "plain-1" },
    { subject: "orders.own-headers", data: "b", msgId: "own-1", headers: h },
    { subject: "orders.é", data: "c", msgId: "accent-1" },
    { subject: "orders.id", data: "d", msgId: "id with spaces é" },
    { subject: "orders.big", data: new Uint8Array(64 * 1024 + 7).fill(0x61), msgId: "big-1" },
  ];
  const acks = await Promise.all(sent.map((m) => pub.publish(m)));
  assertEquals(acks.map((a) => a.seq), [1, 2, 3, 4, 5]);
  const again = await Promise.all(sent.map((m) => pub.publish({ ...m, headers: undefined })));
  assert(again.every((a) => a.duplicate), "each Nats-Msg-Id was stored with its message");
  const jsm = await jetstreamManager(nc);
  const own = (await jsm.streams.getMessage("ORDERS", { seq: 2 }))!;
  assertEquals(own.header.get("Jetport-Test"), "yes");
  assertEquals(own.header.get("Nats-Msg-Id"), "own-1");
  const big = (await jsm.streams.getMessage("ORDERS", { seq: 5 }))!;
  assertEquals(big.data.length, 64 * 1024 + 7);
  assertEquals((await jsm.streams.getMessage("ORDERS", { seq: 3 }))!.subject, "orders.é");
  await pub.close();
  await nc.close();
});

Deno.test("publisher: text payloads are stored as their UTF-8 bytes: multi-byte, empty, and larger than the encoding buffer", async () => {
  await using server = await startNatsServer();
  const nc = await setup(server);
  const pub = createPublisher(nc);
  // Text is encoded into one reused buffer per frame: a long text between short ones must not
  // leave its bytes in theirs, nor a short one cut a long one.
  const texts = [
    '{"path":"résumé final (1).pdf","root":"/données/日本語"}',
    "x".repeat(64 * 1024 + 9) + "é",
    "",
    '🙂 a\tb \u0000 "q"',
    "é".repeat(40_000),
    "end",
  ];
  const acks = await Promise.all(
    texts.map((data, i) => pub.publish({ subject: `orders.t${i}`, data })),
  );
  assertEquals(acks.map((a) => a.seq), [1, 2, 3, 4, 5, 6]);
  const jsm = await jetstreamManager(nc);
  const encoder = new TextEncoder();
  for (const [i, text] of texts.entries()) {
    const stored = (await jsm.streams.getMessage("ORDERS", { seq: i + 1 }))!;
    assertEquals(stored.data, encoder.encode(text), `message ${i + 1}`);
  }
  await pub.close();
  await nc.close();
});

Deno.test("publisher: a Nats-Msg-Id with a line break throws at once, before anything is sent", async () => {
  await using server = await startNatsServer();
  const nc = await setup(server);
  const pub = createPublisher(nc);
  let threw = false;
  try {
    pub.publish({ subject: "orders.a", data: "x", msgId: "a\r\nb" }).catch(() => {});
  } catch {
    threw = true;
  }
  assert(threw, "publish threw");
  assertEquals(pub.inFlight, 0);
  await pub.close();
  await nc.close();
});
