import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { assertEquals, assertStringIncludes } from "../helpers/assert.ts";
import { startNatsServer } from "../helpers/nats_server.ts";
import { jetport, jetportCommand } from "../helpers/jetport.ts";
import { writeConfig } from "../helpers/config.ts";
import { isEnvelope, lineMessage } from "../../src/cli/commands/publish.ts";
import { type ByteSource, eachLine } from "../../src/cli/jsonl_lines.ts";

async function setup() {
  const nats = await startNatsServer();
  const nc = await connect({ servers: nats.url });
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: "EV", subjects: ["ev.>"], duplicate_window: 120_000_000_000 });
  const config = await writeConfig(`nats: { servers: "${nats.url}" }\n`);
  return {
    jsm,
    config,
    /** `jetport publish --config <this server's config> ...flags`. */
    publish: (...flags: string[]) => jetport(["publish", "--config", config, ...flags]),
    async [Symbol.asyncDispose]() {
      await nc.close();
      await nats.close();
    },
  };
}

Deno.test("publish --file: 100k lines are 100k published; the same file again, 100k duplicates", async () => {
  await using env = await setup();
  const file = `${await Deno.makeTempDir()}/events.jsonl`;
  const lines = Array.from({ length: 100_000 }, (_, i) => JSON.stringify({ n: i, path: `f/${i}` }));
  await Deno.writeTextFile(file, lines.join("\n") + "\n");
  const args = ["--file", file, "--subject", "ev.load", "--msg-id", "load-{line}"];
  const first = await env.publish(...args);
  assertEquals(first.code, 0, first.stderr);
  assertStringIncludes(first.stderr, "publish: 100000 published, 0 duplicates, 0 failed");
  assertEquals((await env.jsm.streams.info("EV")).state.messages, 100_000);

  const second = await env.publish(...args);
  assertEquals(second.code, 0, second.stderr);
  assertStringIncludes(second.stderr, "publish: 0 published, 100000 duplicates, 0 failed");
  assertEquals((await env.jsm.streams.info("EV")).state.messages, 100_000);
  const last = await env.jsm.streams.getMessage("EV", { seq: 100_000 });
  assertEquals(last!.json(), { n: 99_999, path: "f/99999" });
  assertEquals(last!.header.get("Nats-Msg-Id"), "load-100000");
});

Deno.test("publish: envelopes, bad lines named by file:line, --data, stdin and headers", async () => {
  await using env = await setup();
  const file = `${await Deno.makeTempDir()}/mixed.jsonl`;
  await Deno.writeTextFile(
    file,
    [
      JSON.stringify({ subject: "ev.a", msg_id: "A", headers: { K: "v" }, data: { x: 1 } }),
      "{not json",
      JSON.stringify({ data_base64: "/wBB", subject: "ev.b" }),
      "",
      JSON.stringify({ subject: "nowhere.x", data: 1 }), // no stream captures it
      JSON.stringify({ bare: true }),
    ].join("\n"),
  );
  const r = await env.publish(
    "--file",
    file,
    "--subject",
    "ev.bare",
    "--header",
    "Source: test",
    "--timeout",
    "1s",
  );
  assertEquals(r.code, 1);
  assertStringIncludes(r.stderr, `${file}:2: not JSON`);
  assertStringIncludes(r.stderr, `${file}:5:`);
  assertStringIncludes(r.stderr, "publish: 3 published, 0 duplicates, 2 failed");
  const a = await env.jsm.streams.getMessage("EV", { last_by_subj: "ev.a" });
  assertEquals([a!.json(), a!.header.get("K"), a!.header.get("Source")], [{ x: 1 }, "v", "test"]);
  const b = await env.jsm.streams.getMessage("EV", { last_by_subj: "ev.b" });
  assertEquals([...b!.data], [0xff, 0x00, 0x41]);
  const bare = await env.jsm.streams.getMessage("EV", { last_by_subj: "ev.bare" });
  assertEquals(bare!.json(), { bare: true });

  const oneArgs = ["--subject", "ev.one", "--data", '{"hello":1}', "--msg-id", "one"];
  const one = await env.publish(...oneArgs);
  assertStringIncludes(one.stderr, "publish: 1 published, 0 duplicates, 0 failed");
  const again = await env.publish(...oneArgs);
  assertStringIncludes(again.stderr, "publish: 0 published, 1 duplicates, 0 failed");

  const child = jetportCommand(["publish", "--config", env.config, "--subject", "ev.stdin"], {
    stdin: "piped",
  }).spawn();
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode("from stdin"));
  await w.close();
  const out = await child.output();
  assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
  const s = await env.jsm.streams.getMessage("EV", { last_by_subj: "ev.stdin" });
  assertEquals(s!.string(), "from stdin");
});

Deno.test("publish reads the daemon-wide config: a watch directory of another host does not stop it, a nats typo does", async () => {
  await using env = await setup();
  const url = /servers: "([^"]+)"/.exec(await Deno.readTextFile(env.config))![1];
  const elsewhere = await writeConfig(
    `nats: { servers: "${url}" }\nroles:\n  watcher:\n    watches: [{ name: a, path: /nope/here }]\n`,
  );
  const ok = await jetport(["publish", "-c", elsewhere, "--subject", "ev.cfg", "--data", "1"]);
  assertEquals(ok.code, 0, ok.stderr);
  assertStringIncludes(ok.stderr, "publish: 1 published, 0 duplicates, 0 failed");
  const typo = await writeConfig(`nats: { servers: "${url}", naem: x }\n`);
  const bad = await jetport([
    "publish",
    "-c",
    typo,
    "--subject",
    "ev.cfg",
    "--data",
    "1",
    "--json",
  ]);
  assertEquals(bad.code, 2);
  assertStringIncludes(bad.stderr, `${typo}:1:`);
  assertStringIncludes(bad.stderr, `nats.naem: unknown key "naem" (did you mean "name"?)`);
  assertEquals(JSON.parse(bad.stdout).error.code, "CONFIG_INVALID");
});

Deno.test("publish --file -: lines from standard input, numbered for --msg-id", async () => {
  await using env = await setup();
  const child = jetportCommand(
    [
      "publish",
      "--config",
      env.config,
      "--file",
      "-",
      "--subject",
      "ev.pipe",
      "--msg-id",
      "p-{line}",
    ],
    { stdin: "piped" },
  ).spawn();
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode('{"a":1}\n\n{"a":'));
  await w.write(new TextEncoder().encode("3}\n"));
  await w.close();
  const out = await child.output();
  const stderr = new TextDecoder().decode(out.stderr);
  assertEquals(out.code, 0, stderr);
  assertStringIncludes(stderr, "publish: 2 published, 0 duplicates, 0 failed");
  const last = await env.jsm.streams.getMessage("EV", { last_by_subj: "ev.pipe" });
  assertEquals([last!.json(), last!.header.get("Nats-Msg-Id")], [{ a: 3 }, "p-3"]);
});

Deno.test("publish: envelope detection and {line} msg ids", () => {
  assertEquals(isEnvelope({ subject: "a", data: 1 }), true);
  assertEquals(isEnvelope({ data: 1, other: 2 }), false); // a payload that has a "data" key
  const m = lineMessage('{"a":1}', 7, { subject: "s", msgId: "b-{line}", headers: [] });
  assertEquals([m.subject, m.data, m.msgId], ["s", '{"a":1}', "b-7"]);
  const replayed = lineMessage(
    JSON.stringify({
      stream: "S",
      seq: 3,
      subject: "x",
      headers: { "Nats-Msg-Id": "orig" },
      data: 2,
    }),
    1,
    { headers: [] },
  );
  assertEquals(replayed.msgId, "orig");
});

/**
 * A source that returns `chunks`, one per read (the rest of one in the next, when it does not fit).
 */
function chunkSource(chunks: Uint8Array[]): ByteSource {
  const queue = [...chunks];
  return {
    read(p) {
      const c = queue.shift();
      if (c === undefined) return Promise.resolve(null);
      if (c.length > p.length) queue.unshift(c.subarray(p.length));
      p.set(c.subarray(0, p.length));
      return Promise.resolve(Math.min(c.length, p.length));
    },
  };
}

/**
 * The lines `eachLine` reads from `chunks`, as [number, text, bytes, error]; the bytes are decoded
 * after the whole input was read (a view into a buffer that was reused would show later bytes).
 */
async function readLines(chunks: (string | number[] | Uint8Array)[]) {
  const source = chunkSource(
    chunks.map((c) => typeof c === "string" ? new TextEncoder().encode(c) : new Uint8Array(c)),
  );
  const seen: [number, string, Uint8Array, string | undefined][] = [];
  await eachLine(source, (n, text, bytes, error) => {
    seen.push([n, text, bytes, error]);
  });
  return seen.map(([n, text, bytes, error]) => [n, text, new TextDecoder().decode(bytes), error]);
}

Deno.test("publish: lines split across reads, CRLF, blank lines counted, last line without a break", async () => {
  assertEquals(await readLines(["", '{"a":1}\n{"b"', ":2}\r\n\n  \n", "", "3\n", "4"]), [
    [1, '{"a":1}', '{"a":1}', undefined],
    [2, '{"b":2}', '{"b":2}', undefined],
    [5, "3", "3", undefined],
    [6, "4", "4", undefined],
  ]);
});

Deno.test("publish: a UTF-8 character split across reads is one character; bytes that are not UTF-8 name their line", async () => {
  const euro = [...new TextEncoder().encode('"€"\n')]; // the € is 3 bytes
  const lines = await readLines([euro.slice(0, 2), euro.slice(2), [0x22, 0xff, 0x22, 0x0a], "5\n"]);
  assertEquals(lines, [
    [1, '"€"', '"€"', undefined],
    [2, "", '"\ufffd"', "not UTF-8 text"],
    [3, "5", "5", undefined],
  ]);
  const m = lineMessage('"€"', 1, { subject: "s", headers: [] }, new TextEncoder().encode('"€"'));
  assertEquals(m.data, new TextEncoder().encode('"€"')); // a bare payload is sent as its bytes
});

Deno.test("publish: 300k lines in reads of every size, one line longer than a read buffer, come out whole and in order", async () => {
  const lines = Array.from(
    { length: 300_000 },
    (_, i) =>
      i === 1000
        ? JSON.stringify({ long: "x".repeat(600_000) })
        : i % 997 === 0
        ? JSON.stringify({ i, s: "€ü" })
        : JSON.stringify({ i }),
  );
  const all = new TextEncoder().encode(lines.join("\r\n") + "\n");
  const chunks: Uint8Array[] = [];
  let seed = 7;
  for (let at = 0; at < all.length;) {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    const size = 1 + seed % 70_000;
    chunks.push(all.subarray(at, at + size));
    at += size;
  }
  const seen: [number, string, Uint8Array][] = [];
  const wait = Promise.resolve();
  await eachLine(chunkSource(chunks), (n, text, bytes) => {
    seen.push([n, text, bytes]);
    if (n % 5000 === 0) return wait; // a full window now and then
  });
  assertEquals(seen.length, lines.length);
  for (let i = 0; i < lines.length; i++) {
    const [n, text, bytes] = seen[i];
    if (n !== i + 1 || text !== lines[i] || new TextDecoder().decode(bytes) !== lines[i]) {
      throw new Error(`line ${i + 1} came out as line ${n}: ${text.slice(0, 40)}`);
    }
  }
});
