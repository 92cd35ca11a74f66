import { assert, assertEquals, waitFor } from "../helpers/assert.ts";
import { startNatsCluster } from "../helpers/nats_cluster.ts";
import { connect } from "@nats-io/transport-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";

Deno.test("cluster harness: R3 stream survives its leader being killed", async () => {
  await using cluster = await startNatsCluster();
  const nc = await connect({
    servers: cluster.urls,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 100,
  });
  try {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: "R3", subjects: ["r3.>"], num_replicas: 3 });
    const js = jetstream(nc);
    await js.publish("r3.a", "one");
    const leader = await waitFor(() => cluster.streamLeader("R3"), 10_000, "stream leader");
    assert(cluster.nodes.some((n) => n.name === leader));
    await cluster.kill(leader);
    const next = await waitFor(
      async () => {
        const l = await cluster.streamLeader("R3");
        return l && l !== leader ? l : undefined;
      },
      20_000,
      "new leader",
    );
    assert(next !== leader);
    await waitFor(
      () => js.publish("r3.b", "two", { msgID: "two", timeout: 2000 }),
      20_000,
      "publish",
    );
    await cluster.restart(leader);
    // Right after the restart a stale replica may still answer; the stream converges on both.
    const info = await waitFor(
      async () => {
        const i = await jsm.streams.info("R3");
        return i.state.messages === 2 ? i : undefined;
      },
      20_000,
      "both messages in R3",
    );
    assertEquals(info.state.last_seq, 2);
  } finally {
    await nc.close();
  }
});
