import { assertEquals, assertMatch, assertStringIncludes } from "../helpers/assert.ts";
import type { LogRecord } from "@logtape/logtape";
import { jsonLine, textLine } from "../../src/platform/logging.ts";
import { registerSecret } from "../../src/platform/redact.ts";

function record(rawMessage: string, properties: Record<string, unknown>): LogRecord {
  const message: unknown[] = [];
  let rest = rawMessage;
  for (const m of rawMessage.matchAll(/\{(\w+)\}/g)) {
    const [before, after] = rest.split(m[0]);
    message.push(before, properties[m[1]]);
    rest = after;
  }
  message.push(rest);
  return {
    category: ["jetport", "watcher"],
    level: "info",
    message,
    rawMessage,
    timestamp: Date.UTC(2026, 0, 2, 3, 4, 5),
    properties,
  };
}

Deno.test("text lines show the message once and only the extra properties", () => {
  const line = textLine(record("watching {root}", { root: "/srv/in", files: 3 }));
  assertEquals(line, "2026-01-02T03:04:05.000Z INFO  [watcher] watching /srv/in files=3\n");
});

Deno.test("registered secrets and URL passwords are redacted in text and JSON lines", () => {
  registerSecret("s3cr3t-token-value");
  const r = record("connecting with {token} to {url}", {
    token: "s3cr3t-token-value",
    url: "nats://bob:pw123@host:4222",
  });
  const text = textLine(r);
  assertMatch(text, /connecting with \[redacted\] to nats:\/\/bob:\[redacted\]@host:4222/);
  const json = JSON.parse(jsonLine(r));
  assertEquals(json.token, "[redacted]");
  assertEquals(json.category, "watcher");
});

/** Parses the logfmt part of a text line (after the message) the way logfmt readers do. */
function logfmtPairs(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of text.matchAll(/([^\s=]+)=("(?:[^"\\]|\\.)*"|[^\s"=]+)/g)) {
    out[m[1]] = m[2].startsWith('"') ? JSON.parse(m[2]) : m[2];
  }
  return out;
}

Deno.test("text lines: properties are valid logfmt, quoted when they hold spaces, quotes or =", () => {
  const line = textLine(record("scanned", {
    path: "/a b",
    quote: 'say "hi"',
    eq: "a=b",
    empty: "",
    plain: "/srv/in",
    n: 3,
    obj: { k: "v w" },
  }));
  assertStringIncludes(
    line,
    ' path="/a b" quote="say \\"hi\\"" eq="a=b" empty="" plain=/srv/in n=3',
  );
  assertEquals(line.split("\n").length, 2, "one line");
  const pairs = logfmtPairs(line.slice(line.indexOf("scanned") + "scanned".length));
  assertEquals(pairs, {
    path: "/a b",
    quote: 'say "hi"',
    eq: "a=b",
    empty: "",
    plain: "/srv/in",
    n: "3",
    obj: '{"k":"v w"}',
  });
});

Deno.test("one record is one line: newlines in the message and in values are escaped", () => {
  const line = textLine(record("bad file {name}", { name: "a\nb", detail: "x\ny" }));
  assertEquals(line, '2026-01-02T03:04:05.000Z INFO  [watcher] bad file a\\nb detail="x\\ny"\n');
});

Deno.test("JSON lines: a property named like a reserved key never replaces it", () => {
  const json = JSON.parse(jsonLine(record("hello", {
    level: "fake",
    message: "fake",
    time: "fake",
    category: "fake",
    other: 1,
  })));
  assertEquals([json.level, json.message, json.category], ["info", "hello", "watcher"]);
  assertEquals(json.time, "2026-01-02T03:04:05.000Z");
  assertEquals(
    [json.prop_level, json.prop_message, json.prop_time, json.prop_category, json.other],
    ["fake", "fake", "fake", "fake", 1],
  );
});

Deno.test("errors: the message always, the stack only with stacks on (level: debug)", () => {
  const error = new Error("boom");
  const r = record("failed: {error}", { error });
  const plain = JSON.parse(jsonLine(r));
  assertEquals([plain.error, plain["error.stack"]], ["boom", undefined]);
  const debug = JSON.parse(jsonLine(r, { stacks: true }));
  assertEquals(debug.error, "boom");
  assertMatch(debug["error.stack"], /^Error: boom\n\s+at /);
  assertEquals(textLine(r).includes("error.stack"), false);
  const text = textLine(r, { stacks: true });
  assertMatch(text, /failed: boom error\.stack="Error: boom\\n\s+at /);
  assertEquals(text.split("\n").length, 2, "the stack stays on the record's line");
});
