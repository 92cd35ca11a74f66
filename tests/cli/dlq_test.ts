import { headers } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { assertEquals, assertMatch, assertThrows } from "../helpers/assert.ts";
import { startNatsServer } from "../helpers/nats_server.ts";
import { jetport } from "../helpers/jetport.ts";
import { writeConfig } from "../helpers/config.ts";
import { UsageError } from "../../src/cli/args.ts";
import { parseSince, renderPayload } from "../../src/cli/commands/dlq.ts";
import { parseRate } from "../../src/cli/rate.ts";
import { deadLetter, ensureDlqStream } from "../../src/nats/dlq.ts";

Deno.test("dlq flags: --since takes a duration or a date, --rate N or N/s", () => {
  assertEquals(parseSince("1h", 10_000_000).getTime(), 10_000_000 - 3_600_000);
  assertEquals(parseSince("2024-05-01T10:00:00Z").toISOString(), "2024-05-01T10:00:00.000Z");
  assertThrows(() => parseSince("yesterday-ish"), UsageError);
  assertEquals(parseRate("200/s"), 200);
  assertEquals(parseRate("50"), 50);
  assertThrows(() => parseRate("0"), UsageError);
  assertThrows(() => parseRate("fast"), UsageError);
});

Deno.test("dlq show: JSON pretty-printed, text as is, binary as a hex dump", () => {
  assertEquals(renderPayload(new TextEncoder().encode('{"a":1}')), '{\n  "a": 1\n}');
  assertEquals(renderPayload(new TextEncoder().encode("plain text")), "plain text");
  assertMatch(renderPayload(new Uint8Array([0, 1, 255])), /binary, 3 bytes[\s\S]*00 01 ff/);
});

Deno.test("dlq CLI: usage errors, list filters, show, dry run, purge needs --yes", async () => {
  await using nats = await startNatsServer();
  const nc = await connect({ servers: nats.url });
  try {
    const jsm = await jetstreamManager(nc);
    const js = jetstream(nc);
    const target = { stream: "DLQ", subjectPrefix: "dlq" };
    await ensureDlqStream(jsm, {
      target,
      maxAge: 86_400_000,
      replicas: 1,
      duplicateWindow: 60_000,
    });
    for (
      const [stream, consumer, seq, reason] of [
        ["A", "c1", 1, "invalid payload: not JSON"],
        ["A", "c2", 2, "max deliveries reached (3)"],
        ["B", "c1", 3, "max deliveries reached (3)"],
      ] as const
    ) {
      const h = headers();
      h.set("X-Trace", `t${seq}`);
      await deadLetter(js, target, {
        stream,
        consumer,
        subject: `${stream.toLowerCase()}.x`,
        seq,
        deliveries: 3,
        reason,
        data: new TextEncoder().encode(`{"seq":${seq}}`),
        headers: h,
      });
    }
    const file = await writeConfig(`
nats: { servers: "${nats.url}" }
roles: { dlq_redriver: {} }
`);
    const noDlq = await writeConfig(`nats: { servers: "${nats.url}" }\n`);

    const bare = await jetport(["dlq", "redrive", "--config", file]);
    assertEquals(bare.code, 2);
    assertMatch(bare.stderr, /needs --all, --seq N or a filter/);
    assertEquals((await jetport(["dlq", "list", "--config", noDlq])).code, 2);
    assertEquals((await jetport(["dlq", "frobnicate", "--config", file])).code, 2);

    const bySource = await jetport(["dlq", "list", "--source", "A", "--config", file]);
    assertEquals(bySource.code, 0, bySource.stderr);
    assertEquals(bySource.stdout.trim().split("\n").length, 3, bySource.stdout); // header + 2
    const byReason = await jetport([
      "dlq",
      "list",
      "--reason",
      "INVALID",
      "--json",
      "--config",
      file,
    ]);
    const rows = JSON.parse(byReason.stdout).entries;
    assertEquals(rows.map((r: { seq: number }) => r.seq), [1]);
    assertEquals(rows[0].consumer, "c1");

    const show = await jetport(["dlq", "show", "--seq", "2", "--config", file]);
    assertEquals(show.code, 0, show.stderr);
    assertMatch(show.stdout, /Jetport-Dlq-Reason\s+max deliveries reached \(3\)/);
    assertMatch(show.stdout, /X-Trace\s+t2/);
    assertMatch(show.stdout, /\{\n {2}"seq": 2\n\}/);

    const dry = await jetport(["dlq", "redrive", "--all", "--dry-run", "--config", file]);
    assertMatch(dry.stdout, /3 entries would be redriven; nothing changed/);
    assertEquals((await jsm.streams.info("DLQ")).state.messages, 3);

    const refused = await jetport(["dlq", "purge", "--source", "A/c2", "--config", file]);
    assertEquals(refused.code, 2);
    assertMatch(refused.stderr, /--yes/);
    const purged = await jetport(["dlq", "purge", "--source", "A/c2", "--yes", "--config", file]);
    assertEquals(purged.code, 0, purged.stderr);
    assertMatch(purged.stdout, /purged 1 entries/);
    assertEquals((await jsm.streams.info("DLQ")).state.messages, 2);
    const all = await jetport(["dlq", "purge", "--all", "--yes", "--config", file]);
    assertMatch(all.stdout, /purged 2 entries/);
    assertEquals((await jsm.streams.info("DLQ")).state.messages, 0);
  } finally {
    await nc.close();
  }
});
