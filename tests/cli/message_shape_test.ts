import { connect } from "@nats-io/transport-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { headers } from "@nats-io/nats-core";
import { assertEquals } from "../helpers/assert.ts";
import { startNatsServer } from "../helpers/nats_server.ts";
import { jetport } from "../helpers/jetport.ts";
import { writeConfig } from "../helpers/config.ts";
import { storedMessageLine } from "../../src/cli/message_line.ts";
import { lineMessage } from "../../src/cli/commands/publish.ts";

/** Payloads whose bytes must survive: compact JSON, JSON with spaces, a float, binary, empty. */
const PAYLOADS = [
  new TextEncoder().encode('{"a":1,"b":[true,null]}'),
  new TextEncoder().encode('{"a": 1}'),
  new TextEncoder().encode("1.0"),
  new Uint8Array([0xff, 0x00, 0x41]),
  new Uint8Array(),
];

Deno.test("message shape: a stored message -> JSON line -> publish input keeps subject, headers, bytes", () => {
  for (const data of PAYLOADS) {
    const h = headers();
    h.append("Trace", "t-1");
    h.append("Tag", "a");
    h.append("Tag", "b");
    const line = storedMessageLine("EV", {
      subject: "ev.x",
      seq: 7,
      time: new Date("2026-01-02T03:04:05.678Z"),
      headers: h,
      data,
    });
    const text = JSON.stringify(line);
    const parsed = JSON.parse(text);
    assertEquals(parsed.stream, "EV");
    assertEquals(parsed.seq, 7);
    assertEquals(parsed.time, "2026-01-02T03:04:05.678Z");
    assertEquals(parsed.headers, { Trace: "t-1", Tag: ["a", "b"] });
    const msg = lineMessage(text, 1, { headers: [] });
    assertEquals(msg.subject, "ev.x");
    const bytes = typeof msg.data === "string" ? new TextEncoder().encode(msg.data) : msg.data;
    assertEquals([...bytes as Uint8Array], [...data]);
    assertEquals(msg.headers?.values("Tag"), ["a", "b"]);
  }
});

Deno.test("message shape: replay --to, then publish --file of those lines stores the same messages", async () => {
  await using nats = await startNatsServer();
  const nc = await connect({ servers: nats.url });
  try {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: "EV", subjects: ["ev.>"] });
    const js = jetstream(nc);
    for (const [i, data] of PAYLOADS.entries()) {
      const h = headers();
      h.append("Tag", "a");
      h.append("Tag", String(i));
      // Every message jetport publishes has a Nats-Msg-Id (publish adds one where it is missing).
      await js.publish(`ev.${i}`, data, { headers: h, msgID: `m-${i}` });
    }
    const config = await writeConfig(`nats: { servers: "${nats.url}" }\n`);
    const dir = await Deno.makeTempDir();
    const replay = (to: string) =>
      jetport(["replay", "-c", config, "--stream", "EV", "--to", to, "--quiet", "--json"]);
    const first = await replay(`${dir}/first.jsonl`);
    assertEquals(first.code, 0, first.stderr);
    const summary = JSON.parse(first.stdout);
    assertEquals([summary.read, summary.first_seq, summary.last_seq], [5, 1, 5]);
    assertEquals([summary.to, summary.to_subject], [`${dir}/first.jsonl`, null]);

    // A new stream, so the duplicate window does not remember the ids.
    await jsm.streams.delete("EV");
    await jsm.streams.add({ name: "EV", subjects: ["ev.>"] });
    const pub = await jetport(["publish", "-c", config, "--file", `${dir}/first.jsonl`, "--json"]);
    assertEquals(pub.code, 0, pub.stderr);
    assertEquals(JSON.parse(pub.stdout), { published: 5, duplicates: 0, failed: 0, failures: [] });

    assertEquals((await replay(`${dir}/second.jsonl`)).code, 0);
    // The same messages at new sequences and times: everything else is equal.
    const read = async (f: string) =>
      (await Deno.readTextFile(`${dir}/${f}`)).trim().split("\n").map((l) => {
        const { seq: _seq, time: _time, ...rest } = JSON.parse(l);
        return rest;
      });
    assertEquals(await read("second.jsonl"), await read("first.jsonl"));
  } finally {
    await nc.close();
  }
});
