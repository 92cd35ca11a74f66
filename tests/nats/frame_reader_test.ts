/**
 * The frame reader against nats.js's own parser: the same events for the same bytes, however the
 * reads cut them, and the frames of the server's form read without the parser.
 */
import { Parser, type ParserEvent } from "@nats-io/nats-core/internal";
import { assert, assertEquals } from "../helpers/assert.ts";
import { frameReader } from "../../src/nats/frame_reader.ts";

const text = (b?: Uint8Array) => b === undefined ? undefined : new TextDecoder().decode(b);

/** An event as plain values (the parser's own hold views of the read). */
function describe(e: ParserEvent) {
  const m = e.msg;
  return {
    kind: e.kind,
    msg: m && {
      subject: text(m.subject),
      reply: text(m.reply),
      sid: m.sid,
      hdr: m.hdr,
      size: m.size,
    },
    data: text(e.data),
  };
}

/** Parses `chunks` with nats.js's parser, with or without the frame reader. */
function parse(chunks: Uint8Array[], withReader: boolean) {
  const events: ReturnType<typeof describe>[] = [];
  const parser = new Parser({ push: (e: ParserEvent) => events.push(describe(e)) });
  let fallbacks = 0;
  const own = parser.parse.bind(parser);
  const read = withReader
    ? frameReader(parser, (b) => {
      fallbacks++;
      own(b);
    })
    : own;
  for (const c of chunks) read(c);
  return { events, fallbacks };
}

/** `bytes` cut at `cuts` (ascending offsets). */
function cut(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  let from = 0;
  for (const at of [...cuts, bytes.length]) {
    chunks.push(bytes.slice(from, at));
    from = at;
  }
  return chunks;
}

const enc = (s: string) => new TextEncoder().encode(s);

/** A frame as nats-server writes it: `HMSG` when there are headers. */
function frame(subject: string, sid: number, reply: string, payload: string, headers = ""): string {
  const r = reply ? ` ${reply}` : "";
  return headers
    ? `HMSG ${subject} ${sid}${r} ${headers.length} ${headers.length + payload.length}\r\n` +
      `${headers}${payload}\r\n`
    : `MSG ${subject} ${sid}${r} ${payload.length}\r\n${payload}\r\n`;
}

/** What nats-server writes: every kind of frame and operation, in its one form. */
const SERVER_STREAM = [
  'INFO {"server_id":"x","max_payload":1048576}\r\n',
  frame("a.b", 1, "", "hello"),
  frame("_INBOX.x.1z", 12, "_INBOX.r.7", "abc"),
  frame("ev.1", 3, "", "hello", "NATS/1.0\r\nA: b\r\n\r\n"),
  frame("ev.2", 3, "$JS.ACK.S.C.1.2.3.4.5", "", "NATS/1.0\r\n\r\n"),
  "PING\r\n",
  frame("empty", 4, "", ""),
  "+OK\r\n",
  "PONG\r\n",
  "-ERR 'Stale Connection'\r\n",
  frame("$JS.x", 9, "", '{"stream":"S","seq":1}'),
].join("");

Deno.test("frameReader: the same events as nats.js's parser, for one read and for every cut into two", () => {
  const bytes = enc(SERVER_STREAM);
  const expected = parse([bytes], false).events;
  assertEquals(expected.length, 11);
  for (let at = 0; at <= bytes.length; at++) {
    assertEquals(parse(cut(bytes, [at]), true).events, expected, `cut at ${at}`);
  }
  assertEquals(
    parse(cut(bytes, [...bytes.keys()].slice(1)), true).events,
    expected,
    "byte by byte",
  );
});

Deno.test("frameReader: whole MSG and HMSG frames never reach nats.js's parser, only the other operations, one line each", () => {
  const bytes = enc(SERVER_STREAM);
  const whole = parse([bytes], true);
  assertEquals(whole.events.length, 11);
  // INFO, PING, +OK, PONG, -ERR.
  assertEquals(whole.fallbacks, 5);
  const byteByByte = parse(cut(bytes, [...bytes.keys()].slice(1)), true);
  assertEquals([byteByByte.events.length, byteByByte.fallbacks], [11, 5]);
});

Deno.test("frameReader: a large payload cut into many reads is dispatched once, whole, without the parser", () => {
  const payload = "x".repeat(300_000);
  const bytes = enc(`MSG big 1 ${payload.length}\r\n${payload}\r\nMSG next 1 2\r\nok\r\n`);
  const cuts = [];
  for (let at = 7; at < bytes.length; at += 16_384) cuts.push(at);
  const { events, fallbacks } = parse(cut(bytes, cuts), true);
  assertEquals(events.map((e) => [e.msg?.subject, e.data?.length]), [["big", 300_000], [
    "next",
    2,
  ]]);
  assertEquals(fallbacks, 0);
  assertEquals(events, parse([bytes], false).events);
});

Deno.test("frameReader: lines nats.js accepts in other forms (tabs, two spaces, lower case) are read by its parser, with the same events", () => {
  const other = [
    "MSG\ta\t1\t3\r\nabc\r\n",
    "MSG  b  2  rep  3\r\nabc\r\n",
    "msg c 3 3\r\nabc\r\n",
    "MSG c\t1 2 3\r\nabc\r\n",
    "hmsg d 4 12 14\r\nNATS/1.0\r\n\r\nhi\r\n",
    "MSG e 5 3\r\nabc\r\n",
  ].join("");
  const bytes = enc(other);
  const expected = parse([bytes], false).events;
  assertEquals(expected.map((e) => e.msg?.subject), ["a", "b", "c", "c", "d", "e"]);
  for (let at = 0; at <= bytes.length; at++) {
    assertEquals(parse(cut(bytes, [at]), true).events, expected, `cut at ${at}`);
  }
});

Deno.test("frameReader: what is not the protocol, or not quite, fails or passes as in nats.js's parser", () => {
  const outcome = (bytes: Uint8Array, withReader: boolean) => {
    try {
      return parse([bytes], withReader).events;
    } catch (err) {
      return (err as Error).message.split(":")[0];
    }
  };
  for (
    const bad of ["XYZ\r\n", "MSG a x 3\r\nabc\r\n", "MSG a 1 3\r\nabcdef\r\nMSG b 1 1\r\nz\r\n"]
  ) {
    assertEquals(outcome(enc(bad), true), outcome(enc(bad), false), bad);
  }
  assertEquals(outcome(enc("XYZ\r\n"), true), "parse error [0]");
});

Deno.test("frameReader: random reads of a long mixed stream give nats.js's events", () => {
  let seed = 7;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const parts: string[] = [];
  for (let i = 0; i < 2000; i++) {
    const payload = "p".repeat(Math.floor(random() * 3000));
    const r = random();
    parts.push(
      r < 0.4
        ? frame(`s.${i}`, i, "", payload)
        : r < 0.8
        ? frame(`s.${i}`, i, `_R.${i}`, payload, "NATS/1.0\r\n\r\n")
        : r < 0.9
        ? "PING\r\n"
        : "+OK\r\n",
    );
  }
  const bytes = enc(parts.join(""));
  const cuts: number[] = [];
  for (let at = 0; at < bytes.length;) {
    at += 1 + Math.floor(random() * 9000);
    if (at < bytes.length) cuts.push(at);
  }
  const expected = parse([bytes], false).events;
  const { events } = parse(cut(bytes, cuts), true);
  assert(events.length === 2000, `${events.length} events`);
  assertEquals(events, expected);
});
