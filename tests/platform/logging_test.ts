import { assertEquals, assertMatch } from "../helpers/assert.ts";
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
