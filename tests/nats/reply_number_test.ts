/** Reply numbers read from a reply subject's bytes, against a real nats-server. */
import { connect } from "@nats-io/transport-node";
import { createInbox, type Msg } from "@nats-io/nats-core";
import { assertEquals, waitFor } from "../helpers/assert.ts";
import { startNatsServer } from "../helpers/nats_server.ts";
import { replyNumber } from "../../src/nats/reply_number.ts";

Deno.test("replyNumber: the base-36 number after the prefix; NaN for anything else", async () => {
  await using nats = await startNatsServer();
  const nc = await connect({ servers: nats.url });
  try {
    const prefix = createInbox();
    const got: Msg[] = [];
    nc.subscribe(`${prefix}.>`, { callback: (_err, msg) => void got.push(msg) });
    await nc.flush();
    const tokens = ["0", "z", (123456789).toString(36), "Z", "1x.2", "12345678901", "-1"];
    for (const t of tokens) nc.publish(`${prefix}.${t}`);
    await waitFor(() => got.length === tokens.length, 10_000, "every reply");
    const numbers = got.map((m) => replyNumber(m, prefix.length));
    assertEquals(numbers, [0, 35, 123456789, NaN, NaN, NaN, NaN]);
    // A message that only has its subject as a string is read the same way.
    const fromStrings = tokens.map((t) =>
      replyNumber({ subject: `${prefix}.${t}` } as Msg, prefix.length)
    );
    assertEquals(fromStrings, numbers);
  } finally {
    await nc.close();
  }
});
