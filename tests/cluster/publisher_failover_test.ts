/**
 * The publisher on a three-node cluster while the node leading the stream is killed -9 and
 * restarted 8 s later: publishes time out or find no responder during the election, are retried
 * with the same Nats-Msg-Id, and every message ends up stored exactly once.
 */
import { assert, assertEquals, sleep, waitFor } from "../helpers/assert.ts";
import { settledStreamLeader, startNatsCluster } from "../helpers/nats_cluster.ts";
import { connect } from "@nats-io/transport-node";
import { DeliverPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { createPublisher, type PublishError } from "../../src/nats/publisher.ts";
import { Registry } from "../../src/http/metrics.ts";

Deno.test("cluster: publisher stores every message exactly once across a leader kill -9", async () => {
  await using cluster = await startNatsCluster();
  const setup = await connect({ servers: cluster.urls });
  await (await jetstreamManager(setup)).streams.add({
    name: "EVENTS",
    subjects: ["events.>"],
    num_replicas: 3,
    duplicate_window: 120e9,
  });
  await setup.close();
  const leader = await settledStreamLeader(cluster, "EVENTS");
  // Connected to a node that stays up: what is tested is the stream's election, not a reconnect.
  const via = cluster.nodes.find((n) => n.name !== leader)!;
  const nc = await connect({ servers: via.url, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
  const metrics = new Registry();
  const pub = createPublisher(nc, {
    window: 256,
    ackTimeout: 1000,
    deadline: 60_000,
    metrics,
    name: "failover",
  });
  try {
    let sent = 0;
    const failures: PublishError[] = [];
    let producing = true;
    // About 1000 messages a second, continuously, until told to stop.
    const producer = (async () => {
      while (producing) {
        for (let k = 0; k < 50; k++) {
          await pub.room();
          const id = `m-${sent++}`;
          pub.publish({ subject: `events.${sent % 5}`, data: id, msgId: id })
            .catch((err) => failures.push(err));
        }
        await sleep(50);
      }
    })();
    await sleep(1000);
    await cluster.kill(leader);
    const killedAt = sent;
    await sleep(8000);
    await cluster.restart(leader);
    // The window (256) fills while no stream answers (2.9.10 took 6-8 s here to elect a leader,
    // 2.10 a few); publishing must carry on once one does.
    await waitFor(() => sent > killedAt + 1000, 30_000, "publishing to resume after the election");
    producing = false;
    await producer;
    await pub.flush();
    assertEquals(failures.map((f) => f.message), []);

    const retried = ["timeout", "no_responders", "unavailable"]
      .map((reason) =>
        metrics.counter("publisher_retries_total", "").get({ publisher: "failover", reason })
      )
      .reduce((a, b) => a + b, 0);
    assert(retried > 0, "the election made the publisher retry");

    const jsm = await jetstreamManager(nc);
    // A replica that was down may answer before it caught up: wait until the stream converged.
    const info = await waitFor(
      async () => {
        const i = await jsm.streams.info("EVENTS");
        return i.state.messages === sent ? i : undefined;
      },
      20_000,
      `${sent} messages in EVENTS`,
    );
    assertEquals(info.state.last_seq, sent, "no sequence was used twice or skipped");

    // Every id exactly once, read back from the stream itself.
    const seen = new Map<string, number>();
    const consumer = await jetstream(nc).consumers.get("EVENTS", {
      deliver_policy: DeliverPolicy.All,
    });
    const messages = await consumer.consume();
    for await (const m of messages) {
      const id = m.headers?.get("Nats-Msg-Id") ?? "";
      assertEquals(m.string(), id);
      seen.set(id, (seen.get(id) ?? 0) + 1);
      if (m.seq >= sent) break;
    }
    await messages.close();
    assertEquals(seen.size, sent);
    assertEquals([...seen.values()].filter((n) => n !== 1), []);
    for (let i = 0; i < sent; i++) assert(seen.has(`m-${i}`), `m-${i} stored`);
  } finally {
    await pub.close(Date.now());
    await nc.close();
  }
});
