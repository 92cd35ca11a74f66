import { jetstreamManager, RetentionPolicy } from "@nats-io/jetstream";
import { jetstream } from "@nats-io/jetstream";
import { assert, assertEquals, assertMatch, waitFor } from "../../helpers/assert.ts";
import { startNatsServer } from "../../helpers/nats_server.ts";
import { jetport, jetportCommand } from "../../helpers/jetport.ts";
import { writeConfig } from "../../helpers/config.ts";
import { provenanceOf } from "../../../src/nats/dlq.ts";
import {
  addFailingConsumer,
  allMessages,
  client,
  runConsumer,
  startRedriver,
  testMessage,
} from "./helpers.ts";

const SOURCE = { stream: "ORDERS", consumer: "worker" };

Deno.test("capture: 500 messages naked to max_deliver 3 land in the DLQ once each, byte-identical; redrive --all puts them back", async () => {
  await using nats = await startNatsServer();
  const nc = await client(nats.url);
  try {
    const jsm = await jetstreamManager(nc);
    const js = jetstream(nc);
    await jsm.streams.add({ name: "ORDERS", subjects: ["orders.>"] });
    await addFailingConsumer(jsm, "ORDERS", "worker", 3);
    await using redriver = await startRedriver(nats.url, { sources: [SOURCE] });

    const N = 500;
    for (let i = 0; i < N; i++) {
      const { data, headers } = testMessage(i);
      await js.publish(`orders.${i % 5}`, data, { headers });
    }
    let fixed = false;
    const processed = new Map<string, number>();
    const redriveHeaders = new Set<string>();
    let markerSeen = false;
    const stop = await runConsumer(nc, "ORDERS", "worker", (m) => {
      if (m.subject === "orders.marker") {
        markerSeen = true;
        return "ack";
      }
      if (!fixed) return "nak";
      const id = m.headers!.get("X-Id");
      processed.set(id, (processed.get(id) ?? 0) + 1);
      redriveHeaders.add(m.headers!.get("Jetport-Dlq-Redrives"));
      return "ack";
    });

    await waitFor(
      async () => (await jsm.streams.info("DLQ")).state.messages >= N,
      90_000,
      "500 DLQ entries",
    );
    // Every advisory has been captured and acked; nothing is left to add a duplicate.
    await waitFor(
      async () => (await jsm.streams.info("DLQ_ADVISORIES")).state.messages === 0,
      30_000,
      "advisory stream drained",
    );
    const entries = await allMessages(jsm, "DLQ");
    assertEquals(entries.length, N, "each dead message stored exactly once");
    const seqs = new Set<number>();
    for (const e of entries) {
      const p = provenanceOf(e.header)!;
      seqs.add(p.seq);
      const i = Number(e.header.get("X-Id"));
      const original = testMessage(i);
      assertEquals(e.subject, "dlq.ORDERS.worker");
      assertEquals([...e.data], [...original.data], `payload of X-Id ${i}`);
      assertEquals(e.header.values("X-Multi"), original.headers.values("X-Multi"));
      assertEquals(p.stream, "ORDERS");
      assertEquals(p.consumer, "worker");
      assertEquals(p.subject, `orders.${i % 5}`);
      assertEquals(p.seq, i + 1);
      assertEquals(p.deliveries, 3);
      assertMatch(p.reason, /max deliveries reached/);
      assertEquals(p.redrives, 0);
      assert(!Number.isNaN(Date.parse(p.failedAt)));
    }
    assertEquals(seqs.size, N);
    assertEquals(
      redriver.metrics.counter("dlq_captured_total", "").get({
        source: "ORDERS/worker",
        kind: "max_deliveries",
      }),
      N,
    );

    // The consumer is fixed; a redrive puts everything back.
    fixed = true;
    const file = await writeConfig(`
nats: { servers: "${nats.url}" }
roles:
  dlq_redriver:
    sources: [{ stream: ORDERS, consumer: worker }]
`);
    const listed = await jetport(["dlq", "list", "--config", file, "--limit", "3"]);
    assertEquals(listed.code, 0, listed.stderr);
    assertMatch(listed.stdout, /DLQ SEQ\s+SOURCE\s+SUBJECT\s+DELIVERIES\s+REASON/);
    assertMatch(listed.stdout, /ORDERS\/worker#1\s+orders\.0\s+3\s+max deliveries reached/);

    const out = await jetport(["dlq", "redrive", "--all", "--rate", "200", "--config", file]);
    assertEquals(out.code, 0, out.stderr);
    assertMatch(out.stdout, /redriven 500 of 500/);
    await waitFor(() => [...processed.values()].reduce((a, b) => a + b, 0) >= N, 30_000, "all");
    assertEquals((await jsm.streams.info("DLQ")).state.messages, 0, "DLQ emptied");
    // A marker published after the redrive is delivered after anything the redrive published:
    // once it is seen, a second copy of any message would have been seen too.
    await js.publish("orders.marker", new Uint8Array());
    await waitFor(() => markerSeen, 30_000, "marker");
    assertEquals(processed.size, N);
    assert([...processed.values()].every((n) => n === 1), "each message processed once");
    assertEquals([...redriveHeaders], ["1"]);
    await stop();
  } finally {
    await nc.close();
  }
});

Deno.test("redrive: SIGTERM half-way loses and duplicates nothing; a second run finishes", async () => {
  await using nats = await startNatsServer();
  const nc = await client(nats.url);
  try {
    const jsm = await jetstreamManager(nc);
    const js = jetstream(nc);
    await jsm.streams.add({ name: "ORDERS", subjects: ["orders.>"] });
    await addFailingConsumer(jsm, "ORDERS", "worker", 2);
    const N = 200;
    {
      await using _redriver = await startRedriver(nats.url, { sources: [SOURCE] });
      for (let i = 0; i < N; i++) {
        const { data, headers } = testMessage(i);
        await js.publish(`orders.${i % 3}`, data, { headers });
      }
      const stop = await runConsumer(nc, "ORDERS", "worker", () => "nak");
      await waitFor(async () => (await jsm.streams.info("DLQ")).state.messages === N, 60_000);
      await stop();
    }
    await jsm.consumers.delete("ORDERS", "worker");
    const file = await writeConfig(`
nats: { servers: "${nats.url}" }
roles: { dlq_redriver: {} }
`);
    const child = jetportCommand(["dlq", "redrive", "--all", "--rate", "40", "--config", file])
      .spawn();
    await waitFor(
      async () => (await jsm.streams.info("DLQ")).state.messages <= N * 0.6,
      60_000,
      "redrive under way",
    );
    child.kill("SIGTERM");
    const res = await child.output();
    const stdout = new TextDecoder().decode(res.stdout);
    assertEquals(res.code, 1, stdout);
    assertMatch(stdout, /interrupted/);

    const countIds = async () => {
      const ids = new Map<string, number>();
      for (const m of await allMessages(jsm, "ORDERS")) {
        if (m.seq <= N) continue; // the originals
        const id = m.header.get("X-Id");
        ids.set(id, (ids.get(id) ?? 0) + 1);
      }
      const inDlq = (await allMessages(jsm, "DLQ")).map((m) => m.header.get("X-Id"));
      return { ids, inDlq };
    };
    const half = await countIds();
    assert(half.ids.size > 0 && half.inDlq.length > 0, "stopped half-way");
    assert([...half.ids.values()].every((n) => n === 1), "nothing republished twice");
    assertEquals(half.ids.size + half.inDlq.length, N, "nothing lost");
    assert(half.inDlq.every((id) => !half.ids.has(id)), "each entry either back or in the DLQ");

    const rest = await jetport(["dlq", "redrive", "--all", "--rate", "1000", "--config", file]);
    assertEquals(rest.code, 0, rest.stderr);
    const done = await countIds();
    assertEquals(done.inDlq.length, 0);
    assertEquals(done.ids.size, N);
    assert([...done.ids.values()].every((n) => n === 1), "each message back exactly once");
  } finally {
    await nc.close();
  }
});

Deno.test("capture: terms under workqueue retention with keep_payload off are provenance-only, also those sent while jetport was down", async () => {
  await using nats = await startNatsServer();
  const nc = await client(nats.url);
  try {
    const jsm = await jetstreamManager(nc);
    const js = jetstream(nc);
    await jsm.streams.add({
      name: "JOBS",
      subjects: ["jobs.>"],
      retention: RetentionPolicy.Workqueue,
    });
    await addFailingConsumer(jsm, "JOBS", "runner", 5);
    const source = { stream: "JOBS", consumer: "runner", keep_payload: "off" };
    // First start creates the advisory stream; then jetport is down while messages are termed.
    {
      await using _r = await startRedriver(nats.url, { sources: [source] });
    }
    for (let i = 0; i < 10; i++) await js.publish("jobs.x", testMessage(i).data);
    const stop = await runConsumer(nc, "JOBS", "runner", () => "term");
    await waitFor(async () => (await jsm.consumers.info("JOBS", "runner")).num_pending === 0);
    await waitFor(async () => (await jsm.consumers.info("JOBS", "runner")).num_ack_pending === 0);
    await stop();

    await using _r = await startRedriver(nats.url, { sources: [source] });
    await waitFor(async () => (await jsm.streams.info("DLQ")).state.messages === 10, 30_000);
    const entries = await allMessages(jsm, "DLQ");
    assertEquals(new Set(entries.map((e) => provenanceOf(e.header)!.seq)).size, 10);
    for (const e of entries) {
      const p = provenanceOf(e.header)!;
      assertMatch(p.reason, /terminated by consumer/);
      // Under workqueue retention the term deleted the original before the advisory was sent,
      // and no mirror kept it.
      assert(p.missing, "provenance only");
      assertMatch(p.reason, /provenance only/);
      assertEquals(e.data.length, 0);
    }
    const file = await writeConfig(`
nats: { servers: "${nats.url}" }
roles: { dlq_redriver: {} }
`);
    const res = await jetport(["dlq", "redrive", "--source", "JOBS", "--config", file]);
    assertEquals(res.code, 0, res.stderr);
    assertMatch(res.stdout, /redriven 0 of 10; 10 provenance-only left in place/);
  } finally {
    await nc.close();
  }
});
