import {
  AckPolicy,
  jetstream,
  type JetStreamManager,
  jetstreamManager,
  RetentionPolicy,
} from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { assert, assertEquals, assertMatch, assertRejects, waitFor } from "../../helpers/assert.ts";
import { natsServerBin, natsServerVersion, startNatsServer } from "../../helpers/nats_server.ts";
import { runRoleInProcess } from "../../helpers/role.ts";
import { loadConfig } from "../../../src/roles/checks.ts";
import { versionAtLeast } from "../../../src/nats/version.ts";
import { ROLE_FACTORIES } from "../../../src/roles/registry.ts";
import { jetport } from "../../helpers/jetport.ts";
import { writeConfig } from "../../helpers/config.ts";
import { provenanceOf } from "../../../src/nats/dlq.ts";
import {
  type Advisory,
  capture,
  type CaptureContext,
  MIRROR_WAIT,
  MirrorBehindError,
} from "../../../src/roles/dlq_redriver/capture.ts";
import { allMessages, client, runConsumer, startRedriver, testMessage } from "./helpers.ts";

/** Vertector's two streams (seed 002): a work queue and an interest stream. */
const STREAMS = [
  { name: "ACADEMIC_EVENTS", subject: "academic.course", retention: RetentionPolicy.Workqueue },
  { name: "NOTES_EVENTS", subject: "notes.created", retention: RetentionPolicy.Interest },
];
const SOURCES = STREAMS.map((s) => ({ stream: s.name, consumer: "worker" }));
const SECTION = { sources: SOURCES, capture_window: "1m", capture_max_bytes: "64KiB" };

async function setUp(nc: NatsConnection) {
  const jsm = await jetstreamManager(nc);
  for (const s of STREAMS) {
    await jsm.streams.add({ name: s.name, subjects: [`${s.subject}.>`], retention: s.retention });
    await jsm.consumers.add(s.name, {
      durable_name: "worker",
      ack_policy: AckPolicy.Explicit,
      max_deliver: 3,
      ack_wait: 2_000_000_000,
    });
  }
  return jsm;
}

/** Runs `body` against a fresh server holding the two streams and their `worker` consumers. */
async function withStreams(
  body: (nc: NatsConnection, jsm: JetStreamManager, url: string) => Promise<void>,
): Promise<void> {
  await using nats = await startNatsServer();
  const nc = await client(nats.url);
  try {
    await body(nc, await setUp(nc), nats.url);
  } finally {
    await nc.close();
  }
}

/** The mirror exists and its consumer on the source is running (the server reports contact). */
async function mirrorsActive(nc: NatsConnection) {
  const jsm = await jetstreamManager(nc);
  for (const s of STREAMS) {
    await waitFor(
      async () => {
        const m = (await jsm.streams.info(`DLQ_KEEP_${s.name}`)).mirror;
        return m && m.active >= 0;
      },
      20_000,
      `mirror of ${s.name} active`,
    );
  }
}

/**
 * Publishes 4 messages per stream: id 0 is terminated ("bad payload"), id 1 naked until it is
 * exhausted, the rest acked. Returns once every consumer has settled all of them.
 */
async function termAndExhaust(nc: NatsConnection) {
  const js = jetstream(nc);
  const jsm = await jetstreamManager(nc);
  const stops = [];
  const settled = new Set<string>();
  for (const s of STREAMS) {
    stops.push(
      await runConsumer(nc, s.name, "worker", (m) => {
        const id = Number(m.headers!.get("X-Id")) % 10;
        if (id !== 1 || m.info.deliveryCount === 3) settled.add(`${s.name}#${id}`);
        return id === 0 ? "term" : id === 1 ? "nak" : "ack";
      }),
    );
  }
  for (const [k, s] of STREAMS.entries()) {
    for (let i = 0; i < 4; i++) {
      const { data, headers } = testMessage(k * 10 + i);
      await js.publish(`${s.subject}.x`, data, { headers });
    }
  }
  await waitFor(() => settled.size === 8, 30_000, "every message termed, exhausted or acked");
  for (const stop of stops) await stop();
  // The terms and acks have reached the server: only the exhausted message is left.
  for (const s of STREAMS) {
    await waitFor(
      async () => (await jsm.streams.info(s.name)).state.messages === 1,
      10_000,
      s.name,
    );
  }
}

/** Checks the DLQ holds exactly the terminated and the exhausted message of each stream. */
async function assertCapturedByteExact(nc: NatsConnection) {
  const jsm = await jetstreamManager(nc);
  await waitFor(async () => (await jsm.streams.info("DLQ")).state.messages >= 4, 30_000, "4");
  const entries = await allMessages(jsm, "DLQ");
  assertEquals(entries.length, 4);
  for (const e of entries) {
    const p = provenanceOf(e.header)!;
    const id = Number(e.header.get("X-Id"));
    const original = testMessage(id);
    assert(!p.missing, `${p.stream} seq ${p.seq}: payload kept`);
    assertEquals([...e.data], [...original.data], `payload of ${p.stream} seq ${p.seq}`);
    assertEquals(e.header.values("X-Multi"), original.headers.values("X-Multi"));
    assertEquals(e.header.get("X-Id"), String(id));
    assertEquals(p.subject, `${STREAMS.find((s) => s.name === p.stream)!.subject}.x`);
    if (id % 10 === 0) assertMatch(p.reason, /^terminated by consumer/);
    else assertMatch(p.reason, /^max deliveries reached \(3\)$/);
  }
  assertEquals(
    entries.map((e) => `${provenanceOf(e.header)!.stream}#${e.header.get("X-Id")}`).sort(),
    ["ACADEMIC_EVENTS#0", "ACADEMIC_EVENTS#1", "NOTES_EVENTS#10", "NOTES_EVENTS#11"],
  );
}

Deno.test("keep_payload: terminated and exhausted messages of a workqueue and an interest stream are captured byte-exact; redrive puts the terminated one back", async () => {
  await withStreams(async (nc, jsm, url) => {
    await using _r = await startRedriver(url, SECTION);
    await mirrorsActive(nc);
    await termAndExhaust(nc);
    await assertCapturedByteExact(nc);

    // The mirrors carry the configured bounds.
    for (const s of STREAMS) {
      const m = await jsm.streams.info(`DLQ_KEEP_${s.name}`);
      assertEquals(m.config.mirror?.name, s.name);
      assertEquals(m.config.max_age, 60_000_000_000);
      assertEquals(m.config.max_bytes, 64 * 1024);
      assertEquals(m.config.retention, RetentionPolicy.Limits);
    }

    // Redrive the terminated workqueue message: it is back in ACADEMIC_EVENTS for its consumer.
    const file = await writeConfig(`
nats: { servers: "${url}" }
roles: { dlq_redriver: {} }
`);
    const entries = await allMessages(jsm, "DLQ");
    const termed = entries.find((e) => e.header.get("X-Id") === "0")!;
    const res = await jetport(["dlq", "redrive", "--seq", String(termed.seq), "--config", file]);
    assertEquals(res.code, 0, res.stderr);
    const c = await jetstream(nc).consumers.get("ACADEMIC_EVENTS", "worker");
    const back = await c.next({ expires: 10_000 });
    assert(back, "the redriven message is delivered");
    assertEquals([...back.data], [...testMessage(0).data]);
    assertEquals(back.headers!.get("X-Id"), "0");
    assertEquals(back.headers!.get("Jetport-Dlq-Redrives"), "1");
    assertEquals(back.subject, "academic.course.x");
    back.ack();
  });
});

Deno.test("keep_payload: a daemon stopped mid-way captures the payloads of what died meanwhile", async () => {
  await withStreams(async (nc, jsm, url) => {
    {
      // The first start makes the advisory stream and the mirrors; then jetport is down.
      await using _r = await startRedriver(url, SECTION);
      await mirrorsActive(nc);
    }
    // Both terminated originals are gone from their sources while nobody captures them.
    await termAndExhaust(nc);
    assertEquals((await jsm.streams.info("DLQ")).state.messages, 0);
    await using _r = await startRedriver(url, SECTION);
    await assertCapturedByteExact(nc);
  });
});

Deno.test("keep_payload: a mirror never holds more than capture_max_bytes", async () => {
  await withStreams(async (nc, jsm, url) => {
    await using _r = await startRedriver(url, SECTION);
    await mirrorsActive(nc);
    const js = jetstream(nc);
    const stop = await runConsumer(nc, "ACADEMIC_EVENTS", "worker", () => "ack");
    const payload = new Uint8Array(1024);
    for (let i = 0; i < 200; i++) await js.publish("academic.course.x", payload);
    const mirror = "DLQ_KEEP_ACADEMIC_EVENTS";
    await waitFor(async () => (await jsm.streams.info(mirror)).state.last_seq === 200, 20_000);
    const state = (await jsm.streams.info(mirror)).state;
    assert(state.bytes <= 64 * 1024, `mirror holds ${state.bytes} bytes`);
    assert(state.messages < 200 && state.messages > 0, `${state.messages} newest kept`);
    assertEquals(state.last_seq, 200, "the newest are the ones kept");
    await waitFor(async () => (await jsm.streams.info("ACADEMIC_EVENTS")).state.messages === 0);
    await stop();
  });
});

const EXAMPLE = new URL("../../../config/examples/vertector.yaml", import.meta.url).pathname;
const serverVersion = await natsServerVersion(natsServerBin());

Deno.test({
  name:
    "keep_payload: config/examples/vertector.yaml captures terminated and exhausted academic and notes events with their payloads",
  // The example's notes-service-consumer filters two subjects, which needs nats-server 2.10.
  ignore: !versionAtLeast(serverVersion, "2.10.0"),
  async fn() {
    await using nats = await startNatsServer();
    const env = { NATS_URL: nats.url };
    const apply = await jetport(["provision", "apply", "--config", EXAMPLE], { env });
    assertEquals(apply.code, 0, apply.stdout + apply.stderr);
    const config = await loadConfig(EXAMPLE, {
      env: (k) => (k === "NATS_URL" ? nats.url : undefined),
    });
    const nc = await client(nats.url);
    try {
      await using _r = await runRoleInProcess(config, "dlq_redriver", ROLE_FACTORIES.dlq_redriver);
      await mirrorsActive(nc);
      const js = jetstream(nc);
      const jsm = await jetstreamManager(nc);
      const settled = new Set<string>();
      const consumers = [
        ["ACADEMIC_EVENTS", "notes-service-consumer"],
        ["NOTES_EVENTS", "search-indexer-consumer"],
      ];
      const stops = [];
      for (const [stream, consumer] of consumers) {
        stops.push(
          await runConsumer(nc, stream, consumer, (m) => {
            const id = m.headers!.get("X-Id");
            // search-indexer-consumer has no max_deliver: only terms end its messages.
            if (id === "1" && m.info.deliveryCount < 3) return "nak";
            settled.add(`${stream}#${id}`);
            return id === "1" ? "nak" : "term";
          }),
        );
      }
      const sends: [string, number][] = [
        ["academic.course.created", 0],
        ["academic.course.updated", 1],
        ["notes.created", 2],
      ];
      for (const [subject, i] of sends) {
        const { data, headers } = testMessage(i);
        await js.publish(subject, data, { headers });
      }
      await waitFor(() => settled.size === 3, 30_000, "termed and exhausted");
      await waitFor(async () => (await jsm.streams.info("DLQ")).state.messages === 3, 30_000, "3");
      for (const stop of stops) await stop();
      for (const e of await allMessages(jsm, "DLQ")) {
        const p = provenanceOf(e.header)!;
        const i = Number(e.header.get("X-Id"));
        assert(!p.missing, `${p.stream} seq ${p.seq} has its payload`);
        assertEquals([...e.data], [...testMessage(i).data]);
        assertEquals(p.subject, sends[i][0]);
        assertMatch(p.reason, i === 1 ? /^max deliveries reached \(3\)$/ : /^terminated by/);
      }
      // The mirrors (and their consumers on the sources) are no drift for the provisioner.
      const verify = await jetport(["provision", "verify", "--config", EXAMPLE], { env });
      assertEquals(verify.code, 0, verify.stdout + verify.stderr);
      assertMatch(verify.stdout, /verify: OK/);
    } finally {
      await nc.close();
    }
  },
});

Deno.test("keep_payload: a workqueue source's consumer created after the role started still can be (2.9 gets its mirror once the consumer exists), and its terms keep their payloads", async () => {
  await using nats = await startNatsServer();
  const nc = await client(nats.url);
  try {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({
      name: "ACADEMIC_EVENTS",
      subjects: ["academic.>"],
      retention: RetentionPolicy.Workqueue,
    });
    const source = { stream: "ACADEMIC_EVENTS", consumer: "worker" };
    await using _r = await startRedriver(nats.url, { sources: [source] });
    // On 2.9 a mirror made now would refuse this consumer ("multiple non-filtered consumers").
    await jsm.consumers.add("ACADEMIC_EVENTS", {
      durable_name: "worker",
      ack_policy: AckPolicy.Explicit,
      max_deliver: 3,
    });
    await waitFor(
      async () => {
        const m = await jsm.streams.info("DLQ_KEEP_ACADEMIC_EVENTS");
        return m.mirror && m.mirror.active >= 0;
      },
      30_000,
      "mirror made and active",
    );
    const { data, headers } = testMessage(7);
    await jetstream(nc).publish("academic.exam.created", data, { headers });
    const stop = await runConsumer(nc, "ACADEMIC_EVENTS", "worker", () => "term");
    await waitFor(async () => (await jsm.streams.info("DLQ")).state.messages === 1, 30_000);
    await stop();
    const [entry] = await allMessages(jsm, "DLQ");
    assertEquals([...entry.data], [...data]);
    assertEquals(provenanceOf(entry.header)!.subject, "academic.exam.created");
  } finally {
    await nc.close();
  }
});

Deno.test("capture: a payload mirror behind the advisory's seq is retried, and after MIRROR_WAIT the entry is provenance-only and says why", async () => {
  await using nats = await startNatsServer();
  const nc = await client(nats.url);
  try {
    const jsm = await jetstreamManager(nc);
    const js = jetstream(nc);
    await jsm.streams.add({ name: "DLQ", subjects: ["dlq.>"] });
    // Stands in for a mirror whose consumer stopped at seq 1: it never reaches seq 5.
    await jsm.streams.add({ name: "STALLED", subjects: ["stalled"] });
    await js.publish("stalled", new Uint8Array([1]));
    const ctx: CaptureContext = {
      jsm,
      publisher: js,
      target: { stream: "DLQ", subjectPrefix: "dlq" },
      allowDirect: () => Promise.resolve(false),
      mirrorOf: () => "STALLED",
    };
    const adv = (ageMs: number): Advisory => ({
      kind: "terminated",
      stream: "GONE", // the source itself is gone: only the mirror could have the payload
      consumer: "worker",
      seq: 5,
      deliveries: 1,
      timestamp: new Date(Date.now() - ageMs),
    });
    await assertRejects(() => capture(ctx, adv(0)), MirrorBehindError);
    assertEquals((await jsm.streams.info("DLQ")).state.messages, 0, "nothing stored yet");
    const res = await capture(ctx, adv(MIRROR_WAIT + 1000));
    assert(res.stored && !res.originalFound);
    const [entry] = await allMessages(jsm, "DLQ");
    const p = provenanceOf(entry.header)!;
    assert(p.missing);
    assertMatch(
      p.reason,
      /payload mirror STALLED had not reached it 60000 ms later\): provenance only$/,
    );
  } finally {
    await nc.close();
  }
});
