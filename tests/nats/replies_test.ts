/** Requests through one reply subscription against a real nats-server. */
import { connect } from "@nats-io/transport-node";
import { assertEquals, assertRejects } from "../helpers/assert.ts";
import { startNatsServer } from "../helpers/nats_server.ts";
import { createReplies, ReplyTimeoutError } from "../../src/nats/replies.ts";

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

Deno.test("createReplies: each request gets its own reply, in any order, on one subscription", async () => {
  await using nats = await startNatsServer();
  const nc = await connect({ servers: nats.url });
  try {
    // Answers in reverse order of arrival, once three requests are in.
    const pending: { reply: string; data: string }[] = [];
    nc.subscribe("echo", {
      callback: (_err, msg) => {
        pending.push({ reply: msg.reply!, data: msg.string() });
        if (pending.length < 3) return;
        for (const p of pending.reverse()) nc.publish(p.reply, bytes(`re: ${p.data}`));
      },
    });
    await nc.flush();
    using replies = createReplies(nc);
    const answers = await Promise.all(
      ["a", "b", "c"].map((d) => replies.request("echo", bytes(d), 5000)),
    );
    assertEquals(answers.map((m) => text(m.data)), ["re: a", "re: b", "re: c"]);
    assertEquals(nc.stats().inMsgs, 6, "three requests in at the responder, three replies");
  } finally {
    await nc.close();
  }
});

Deno.test("createReplies: a request nobody answers rejects with ReplyTimeoutError naming its subject; close rejects what waits", async () => {
  await using nats = await startNatsServer();
  const nc = await connect({ servers: nats.url });
  try {
    nc.subscribe("silent", { callback: () => {} });
    await nc.flush();
    const replies = createReplies(nc);
    const err = await assertRejects(
      () => replies.request("silent", bytes("x"), 200),
      ReplyTimeoutError,
    );
    assertEquals([err.subject, err.message], ["silent", "no reply from silent within 200 ms"]);
    const waiting = replies.request("silent", bytes("y"), 60_000);
    replies.close();
    assertEquals(
      (await assertRejects(() => waiting, Error)).message,
      "closed before silent replied",
    );
    const late = await assertRejects(() => replies.request("silent", bytes("z"), 1000), Error);
    assertEquals(late.message, "closed; cannot request silent");
  } finally {
    await nc.close();
  }
});
