import type { Msg, MsgHdrs } from "@nats-io/nats-core";
import { assertEquals } from "../helpers/assert.ts";
import { parseAckReply } from "../../src/nats/publish_error.ts";

/** A reply as the subscription hands it over: its payload bytes, no status headers. */
function reply(text: string, headers?: Partial<MsgHdrs>): Msg {
  const data = new TextEncoder().encode(text);
  return {
    data,
    headers: headers as MsgHdrs | undefined,
    string: () => text,
    json: <T>() => JSON.parse(text) as T,
  } as unknown as Msg;
}

Deno.test("parseAckReply: the plain PubAck shapes are read, duplicate or not", () => {
  assertEquals(parseAckReply(reply('{"stream":"ORDERS","seq":42}')), {
    kind: "ack",
    ack: { stream: "ORDERS", seq: 42, duplicate: false },
  });
  assertEquals(
    parseAckReply(reply('{"stream":"ORDERS","seq":9007199254740991,"duplicate":true}')),
    {
      kind: "ack",
      ack: { stream: "ORDERS", seq: 9007199254740991, duplicate: true },
    },
  );
});

Deno.test("parseAckReply: replies of alternating streams keep their own stream names", () => {
  const names = ["A", "B", "A", "Åström", "A"].map((s, i) =>
    parseAckReply(reply(`{"stream":"${s}","seq":${i + 1}}`))
  );
  assertEquals(names.map((r) => r.kind === "ack" && r.ack.stream), ["A", "B", "A", "Åström", "A"]);
});

Deno.test("parseAckReply: other shapes are read as JSON (domain, extra fields, spaces, errors)", () => {
  assertEquals(parseAckReply(reply('{"stream":"S","domain":"hub","seq":3}')), {
    kind: "ack",
    ack: { stream: "S", seq: 3, duplicate: false, domain: "hub" },
  });
  assertEquals(parseAckReply(reply('{"stream":"S","seq":3,"val":"x"}')), {
    kind: "ack",
    ack: { stream: "S", seq: 3, duplicate: false },
  });
  assertEquals(parseAckReply(reply('{"stream": "S", "seq": 4}')), {
    kind: "ack",
    ack: { stream: "S", seq: 4, duplicate: false },
  });
  assertEquals(parseAckReply(reply('{"stream":"S","seq":1e3}')), {
    kind: "ack",
    ack: { stream: "S", seq: 1000, duplicate: false },
  });
  assertEquals(
    parseAckReply(
      reply('{"error":{"code":400,"err_code":10071,"description":"wrong last sequence: 1"}}'),
    ),
    { kind: "error", status: 400, apiCode: 10071, description: "wrong last sequence: 1" },
  );
  assertEquals(parseAckReply(reply('{"stream":"S","seq":')).kind, "invalid");
  assertEquals(parseAckReply(reply('{"stream":"S"}')).kind, "invalid");
});

Deno.test("parseAckReply: a 503 status is a retry, whatever the body", () => {
  assertEquals(parseAckReply(reply("", { code: 503 })).kind, "retry");
});
