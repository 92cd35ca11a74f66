import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { assert, assertEquals, assertMatch, waitFor } from "../../helpers/assert.ts";
import { freePort, startNatsServer } from "../../helpers/nats_server.ts";
import { startDaemon } from "../../helpers/jetport.ts";
import { writeConfig } from "../../helpers/config.ts";
import { versionAtLeast } from "../../../src/nats/version.ts";
import { provenanceOf } from "../../../src/nats/dlq.ts";
import { addFailingConsumer, allMessages, client, runConsumer, testMessage } from "./helpers.ts";

Deno.test("daemon: auto-redrive retries up to max_redrives, then parks and counts; logs server limits", async () => {
  await using nats = await startNatsServer();
  const nc = await client(nats.url);
  try {
    const jsm = await jetstreamManager(nc);
    const js = jetstream(nc);
    await jsm.streams.add({ name: "ORDERS", subjects: ["orders.>"] });
    await addFailingConsumer(jsm, "ORDERS", "worker", 2);
    const httpPort = freePort();
    const file = await writeConfig(`
nats: { servers: "${nats.url}" }
http: { listen: "127.0.0.1:${httpPort}" }
roles:
  dlq_redriver:
    sources: [{ stream: ORDERS, consumer: worker }]
    redrive: { auto: true, delay: 200ms, max_redrives: 2, rate: 100 }
`);
    await using daemon = startDaemon(file);
    await daemon.waitForLog(/capturing dead messages of ORDERS\/worker/);
    if (versionAtLeast(nats.version, "2.10.4")) {
      assert(!/needs nats-server 2\.10\.4/.test(daemon.logs()));
    } else {
      await daemon.waitForLog(/needs nats-server 2\.10\.4 or newer/);
    }

    const deliveries = new Map<string, number>();
    const stop = await runConsumer(nc, "ORDERS", "worker", (m) => {
      const id = m.headers!.get("X-Id");
      if (m.info.deliveryCount === 1) deliveries.set(id, (deliveries.get(id) ?? 0) + 1);
      return "nak";
    });
    for (let i = 0; i < 5; i++) {
      const { data, headers } = testMessage(i);
      await js.publish("orders.a", data, { headers });
    }
    // Original + 2 redrives each, then parked.
    const metrics = () => fetch(`http://127.0.0.1:${httpPort}/metrics`).then((r) => r.text());
    await waitFor(
      async () => /^jetport_dlq_parked\{source="ORDERS\/worker"\} 5$/m.test(await metrics()),
      60_000,
      "5 parked",
    );
    // The depth gauge is refreshed every few seconds.
    await waitFor(
      async () => /^jetport_dlq_depth\{source="ORDERS\/worker"\} 5$/m.test(await metrics()),
      30_000,
      "depth 5",
    );
    assertMatch(await metrics(), /^jetport_dlq_redriven_total\{source="ORDERS\/worker"\} 10$/m);
    assertMatch(daemon.logs(), /parked: redriven 2 times \(max_redrives 2\)/);
    const entries = await allMessages(jsm, "DLQ");
    assertEquals(entries.length, 5);
    assert(entries.every((e) => provenanceOf(e.header)!.redrives === 2));
    assertEquals([...deliveries.values()], [3, 3, 3, 3, 3], "original + 2 redrives each");
    await stop();
    daemon.signal("SIGTERM");
    assertEquals((await daemon.exit()).code, 0, daemon.logs());
  } finally {
    await nc.close();
  }
});
