import { connect } from "@nats-io/transport-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { headers } from "@nats-io/nats-core";
import { assertEquals, assertMatch, assertStringIncludes } from "../helpers/assert.ts";
import { startNatsServer } from "../helpers/nats_server.ts";
import { jetport } from "../helpers/jetport.ts";
import { writeConfig } from "../helpers/config.ts";
import { main } from "../../src/cli/main.ts";
import { replayStart } from "../../src/cli/commands/replay.ts";

async function setup() {
  const nats = await startNatsServer();
  const nc = await connect({ servers: nats.url });
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: "EV", subjects: ["ev.>"] });
  await jsm.streams.add({ name: "COPY", subjects: ["copy.>"] });
  const js = jetstream(nc);
  const config = await writeConfig(`nats: { servers: "${nats.url}" }\n`);
  return {
    nats,
    nc,
    jsm,
    js,
    config,
    async [Symbol.asyncDispose]() {
      await nc.close();
      await nats.close();
    },
  };
}

async function readLines(file: string) {
  const text = await Deno.readTextFile(file);
  return text.split("\n").filter((l) => l).map((l) => JSON.parse(l));
}

Deno.test("replay --since returns exactly the messages of that window, and leaves no consumer", async () => {
  await using env = await setup();
  for (let i = 0; i < 30; i++) await env.js.publish(`ev.old.${i}`, JSON.stringify({ i }));
  // A gap, so the window's start falls between the two batches whatever the machine's load.
  await new Promise((r) => setTimeout(r, 3000));
  const h = headers();
  h.set("Trace", "t-1");
  await env.js.publish("ev.new.bin", new Uint8Array([0xff, 0x00, 0x41]), { headers: h });
  for (let i = 0; i < 20; i++) await env.js.publish(`ev.new.${i}`, JSON.stringify({ i }));
  const out = `${await Deno.makeTempDir()}/window.jsonl`;
  // In-process, so "now" is taken within milliseconds of the last publish.
  const code = await main([
    "replay",
    "--config",
    env.config,
    "--stream",
    "EV",
    "--since",
    "1500ms",
    "--to",
    out,
    "--quiet",
  ]);
  assertEquals(code, 0);
  const lines = await readLines(out);
  assertEquals(lines.length, 21);
  assertEquals(lines.map((l) => l.seq), Array.from({ length: 21 }, (_, i) => 31 + i));
  assertEquals(lines[0].subject, "ev.new.bin");
  assertEquals(lines[0].headers, { Trace: "t-1" });
  assertEquals(lines[0].data_base64, "/wBB");
  assertEquals(lines[0].data, undefined);
  assertEquals(lines[1], {
    stream: "EV",
    seq: 32,
    subject: "ev.new.0",
    time: lines[1].time,
    headers: {},
    data: { i: 0 },
  });
  assertMatch(lines[1].time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assertEquals((await env.jsm.streams.info("EV")).state.consumer_count, 0);
});

Deno.test("replay CLI: --from-seq with a subject filter to stdout; --start-time; bad usage", async () => {
  await using env = await setup();
  const replayEv = (...flags: string[]) =>
    jetport(["replay", "--config", env.config, "--stream", "EV", ...flags]);
  for (let i = 1; i <= 40; i++) {
    await env.js.publish(i % 2 ? "ev.odd" : "ev.even", JSON.stringify({ i }));
  }
  const r = await replayEv("--subject", "ev.even", "--from-seq", "21");
  assertEquals(r.code, 0, r.stderr);
  const seqs = r.stdout.trim().split("\n").map((l) => JSON.parse(l).seq);
  assertEquals(seqs, [22, 24, 26, 28, 30, 32, 34, 36, 38, 40]);
  assertStringIncludes(r.stderr, "replay: 10 messages from EV (seq 22..40)");

  const info = await env.jsm.streams.getMessage("EV", { seq: 35 });
  const t = await replayEv("--start-time", info!.time.toISOString());
  assertEquals(t.code, 0, t.stderr);
  assertEquals(JSON.parse(t.stdout.split("\n")[0]).seq <= 35, true);
  assertEquals(JSON.parse(t.stdout.trim().split("\n").at(-1)!).seq, 40);

  const empty = await replayEv("--from-seq", "41");
  assertEquals(empty.code, 0, empty.stderr);
  assertEquals(empty.stdout, "");

  const bad = await replayEv("--since", "1h", "--from-seq", "3");
  assertEquals(bad.code, 2);
  const missing = await jetport(["replay", "--config", env.config, "--stream", "NOPE"]);
  assertEquals(missing.code, 1);
  assertStringIncludes(missing.stderr, "stream not found");
  assertEquals((await env.jsm.streams.info("EV")).state.consumer_count, 0);
});

Deno.test("replay --to-subject re-publishes at a rate, once even when run twice", async () => {
  await using env = await setup();
  for (let i = 0; i < 50; i++) await env.js.publish(`ev.x`, JSON.stringify({ i }));
  const args = [
    "replay",
    "--config",
    env.config,
    "--stream",
    "EV",
    "--to-subject",
    "copy.x",
    "--rate",
    "500/s",
  ];
  const first = await jetport(args);
  assertEquals(first.code, 0, first.stderr);
  assertStringIncludes(first.stderr, "to copy.x: 50 published, 0 duplicates, 0 failed");
  const second = await jetport(args);
  assertStringIncludes(second.stderr, "to copy.x: 0 published, 50 duplicates, 0 failed");
  const copy = await env.jsm.streams.info("COPY");
  assertEquals(copy.state.messages, 50);
  const m = await env.jsm.streams.getMessage("COPY", { seq: 7 });
  assertEquals(m!.json(), { i: 6 });
  assertEquals(m!.header.get("Nats-Msg-Id"), "replay:EV:7");
});

Deno.test("replayStart: flags to a start point", () => {
  assertEquals(replayStart({ since: "1h" }, 7_200_000), {
    kind: "time",
    time: new Date(3_600_000),
  });
  assertEquals(replayStart({ fromSeq: 0 }), { kind: "seq", seq: 1 });
  assertEquals(replayStart({}), { kind: "all" });
});
