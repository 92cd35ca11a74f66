/**
 * `jetport status` against a real server: lag, DLQ depth, unmanaged streams.
 */
import { assert, assertEquals, assertStringIncludes } from "../helpers/assert.ts";
import { startNatsServer } from "../helpers/nats_server.ts";
import { jetport } from "../helpers/jetport.ts";
import { writeConfig } from "../helpers/config.ts";
import { connect } from "@nats-io/transport-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { headers } from "@nats-io/nats-core";
import { configSchema } from "../../src/roles/schemas.ts";
import { collectStatus, type StatusReport } from "../../src/roles/stream_provisioner/status.ts";

Deno.test("status --json: a consumer with 1000 unprocessed messages has lag 1000", async () => {
  await using nats = await startNatsServer();
  const file = await writeConfig(`nats: { servers: "${nats.url}" }
roles:
  stream_provisioner:
    streams: [{ name: WORK, subjects: ["work.>"] }]
    consumers:
      - { stream: WORK, name: slow, filter_subject: "work.jobs" }
      - { stream: WORK, name: not-yet-created }
`);
  const apply = await jetport(["provision", "apply", "--config", file]);
  assertEquals(apply.code, 0, apply.stdout + apply.stderr);
  const nc = await connect({ servers: nats.url });
  const before = Date.now();
  try {
    const js = jetstream(nc);
    await js.publish("work.other", "not for slow");
    await Promise.all(Array.from({ length: 1000 }, (_, i) => js.publish("work.jobs", `${i}`)));
    await (await jetstreamManager(nc)).consumers.delete("WORK", "not-yet-created");
  } finally {
    await nc.close();
  }

  const out = await jetport(["status", "--config", file, "--json"]);
  assertEquals(out.code, 0, out.stderr);
  const report = JSON.parse(out.stdout) as StatusReport;
  const work = report.streams.find((s) => s.name === "WORK")!;
  assertEquals([work.messages, work.first_seq, work.last_seq], [1001, 1, 1001]);
  const slow = work.consumers.find((c) => c.name === "slow")!;
  assertEquals(slow.lag.messages, 1000);
  assertEquals(slow.num_pending, 1000);
  assertEquals(slow.num_ack_pending, 0);
  // The oldest pending message for this filter is the first work.jobs one (seq 2), not seq 1.
  assertEquals(slow.lag.oldest_pending_seq, 2);
  assert(
    slow.lag.oldest_pending_age_ms! >= 0 &&
      slow.lag.oldest_pending_age_ms! < Date.now() - before + 60_000,
  );
  const missing = work.consumers.find((c) => c.name === "not-yet-created")!;
  assertEquals([missing.declared, missing.exists], [true, false]);

  const text = await jetport(["status", "--config", file]);
  assertEquals(text.code, 0);
  assertStringIncludes(text.stdout, "stream WORK: 1001 msgs");
  assertStringIncludes(text.stdout, "consumer slow [pull]: lag 1000, oldest pending");
  assertStringIncludes(text.stdout, "consumer not-yet-created: MISSING on the server");
});

Deno.test("status --stream: works on a stream nobody declared", async () => {
  await using nats = await startNatsServer();
  const nc = await connect({ servers: nats.url });
  try {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: "LEGACY", subjects: ["legacy.>"] });
    await jsm.consumers.add("LEGACY", { durable_name: "old-reader" });
    await jetstream(nc).publish("legacy.x", "1");
  } finally {
    await nc.close();
  }
  const file = await writeConfig(`nats: { servers: "${nats.url}" }\n`);
  const out = await jetport(["status", "--config", file, "--stream", "LEGACY", "--json"]);
  assertEquals(out.code, 0, out.stderr);
  const report = JSON.parse(out.stdout) as StatusReport;
  assertEquals(report.streams.length, 1);
  assertEquals(report.streams[0].declared, false);
  assertEquals(report.streams[0].messages, 1);
  assertEquals(report.streams[0].consumers[0].name, "old-reader");
  assertEquals(report.streams[0].consumers[0].lag.messages, 1);
});

Deno.test("status: DLQ depth per source when a dlq_redriver is configured", async () => {
  await using nats = await startNatsServer();
  const nc = await connect({ servers: nats.url });
  try {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: "DLQ", subjects: ["dlq.>"] });
    const js = jetstream(nc);
    const h = headers();
    h.set("Jetport-Dlq-Reason", "test");
    for (let i = 0; i < 3; i++) {
      await js.publish("dlq.FILE_UPLOADS.file_processor", "x", { headers: h });
    }
    await js.publish("dlq.JELMORE.session_handlers", "y");
    // Parsed by the schema alone: the dlq_redriver role need not be built for status to read it.
    const config = configSchema.parse({
      roles: {
        dlq_redriver: { sources: [{ stream: "FILE_UPLOADS", consumer: "file_processor" }] },
      },
    });
    const report = await collectStatus(jsm, config, {
      streams: ["DLQ"],
      serverVersion: nats.version,
    });
    assertEquals(report.dlq, {
      stream: "DLQ",
      exists: true,
      messages: 4,
      by_source: [
        {
          source: "FILE_UPLOADS/file_processor",
          subject: "dlq.FILE_UPLOADS.file_processor",
          messages: 3,
        },
        {
          source: "JELMORE/session_handlers",
          subject: "dlq.JELMORE.session_handlers",
          messages: 1,
        },
      ],
    });
  } finally {
    await nc.close();
  }
});
