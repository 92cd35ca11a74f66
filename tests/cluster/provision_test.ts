/**
 * The provisioner and `status` on a three-node cluster, run as a user runs them: replicas and
 * placement changed in place, replicas the cluster cannot hold refused by plan, and a stream with
 * a node down shown degraded by `status --json` and failed by `verify` until the node is back.
 */
import { assert, assertEquals, assertStringIncludes, waitFor } from "../helpers/assert.ts";
import { type NatsCluster, startNatsCluster } from "../helpers/nats_cluster.ts";
import { jetport } from "../helpers/jetport.ts";
import { writeConfig } from "../helpers/config.ts";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { readMeta } from "../../src/roles/stream_provisioner/meta.ts";
import type { StatusReport, StreamStatus } from "../../src/roles/stream_provisioner/status.ts";

function declarations(cluster: NatsCluster, replicas: number, placement = "") {
  return writeConfig(`nats: { servers: [${cluster.urls.map((u) => `"${u}"`).join(", ")}] }
roles:
  stream_provisioner:
    streams:
      - { name: FILES, subjects: [file.events], replicas: ${replicas}${placement} }
    consumers:
      - { stream: FILES, name: file-monitor, replicas: ${replicas} }
    kv:
      - { bucket: processed, replicas: ${replicas}${placement} }
`);
}

const provision = (mode: string, file: string) => jetport(["provision", mode, "--config", file]);

async function files(file: string): Promise<StreamStatus | undefined> {
  const out = await jetport(["status", "--config", file, "--json"]);
  if (out.code !== 0) return undefined;
  return (JSON.parse(out.stdout) as StatusReport).streams.find((s) => s.name === "FILES");
}

Deno.test("cluster: replicas 1 → 3 in place; too many refused; degraded while a node is down", async () => {
  await using cluster = await startNatsCluster();
  const one = await declarations(cluster, 1);
  const created = await provision("apply", one);
  assertEquals(created.code, 0, created.stdout + created.stderr);

  // Scale up: an in-place update of the stream, the bucket and the consumer.
  const three = await declarations(cluster, 3, ", placement: { cluster: jetport-test }");
  const plan = await provision("plan", three);
  assertEquals(plan.code, 3, plan.stdout + plan.stderr);
  assertStringIncludes(plan.stdout, "stream FILES: update");
  assertStringIncludes(plan.stdout, "update replicas: 1 → 3");
  assertStringIncludes(plan.stdout, "cluster jetport-test of 3 server(s)");
  const applied = await provision("apply", three);
  assertEquals(applied.code, 0, applied.stdout + applied.stderr);
  assertStringIncludes(applied.stdout, "stream FILES: updated (replicas: 1 → 3");
  assertStringIncludes(applied.stdout, "kv processed: updated (replicas: 1 → 3");
  assertStringIncludes(applied.stdout, "consumer FILES/file-monitor: updated (replicas: 1 → 3)");
  const nc = await connect({ servers: cluster.urls });
  try {
    // Whichever node the client is on, every node of the cluster answers the size question.
    assertEquals((await readMeta(nc, "jetport-test")).servers, ["n1", "n2", "n3"]);
    const jsm = await jetstreamManager(nc);
    assertEquals((await jsm.streams.info("FILES")).config.num_replicas, 3);
    assertEquals((await jsm.streams.info("KV_processed")).config.num_replicas, 3);
    assertEquals((await jsm.consumers.info("FILES", "file-monitor")).config.num_replicas, 3);
  } finally {
    await nc.close();
  }
  // New replicas catch up within moments; then the server matches and nothing is degraded.
  await waitFor(async () => (await provision("verify", three)).code === 0, 20_000, "verify ok");

  // More replicas than servers, or a cluster that is not this one: plan says so, exit 2.
  const five = await provision("plan", await declarations(cluster, 5));
  assertEquals(five.code, 2, five.stdout + five.stderr);
  assertStringIncludes(
    five.stderr,
    "stream FILES: replicas 5 is more than the 3 server(s) known (3 server(s) of cluster " +
      "jetport-test answered (n1, n2, n3))",
  );
  assertStringIncludes(five.stderr, "kv processed: replicas 5 is more than");
  const elsewhere = await provision(
    "plan",
    await declarations(cluster, 3, ", placement: { cluster: eu-west }"),
  );
  assertEquals(elsewhere.code, 2, elsewhere.stdout + elsewhere.stderr);
  assertStringIncludes(elsewhere.stderr, `placement.cluster is "eu-west"`);

  // A node that holds a replica (not the leader) dies: degraded, and verify fails.
  const leader = await waitFor(() => cluster.streamLeader("FILES"), 10_000, "leader");
  const victim = cluster.nodes.find((n) => n.name !== leader)!.name;
  await cluster.kill(victim);
  const degraded = await waitFor(
    async () => {
      const s = await files(three);
      return s?.degraded ? s : undefined;
    },
    30_000,
    "FILES degraded",
  );
  assertEquals(degraded.cluster?.leader, leader);
  const down = degraded.cluster!.replicas.find((r) => r.name === victim)!;
  assert(!down.current || down.offline || down.active_ms! > 5000, JSON.stringify(down));
  assertStringIncludes(degraded.degraded_reasons.join(";"), `replica ${victim}`);
  const verify = await provision("verify", three);
  assertEquals(verify.code, 3, verify.stdout + verify.stderr);
  assertStringIncludes(verify.stdout, "stream FILES: DEGRADED (replica " + victim);
  assertStringIncludes(verify.stdout, "verify: FAILED: ");
  const text = await jetport(["status", "--config", three]);
  assertStringIncludes(text.stdout, "  DEGRADED: replica " + victim);

  // Back again: healthy, and verify passes.
  await cluster.restart(victim);
  const healthy = await waitFor(
    async () => {
      const s = await files(three);
      return s && !s.degraded ? s : undefined;
    },
    30_000,
    "FILES healthy again",
  );
  assertEquals(healthy.cluster?.replicas.length, 3);
  assert(healthy.cluster!.replicas.every((r) => r.current), JSON.stringify(healthy.cluster));
  await waitFor(async () => (await provision("verify", three)).code === 0, 20_000, "verify ok");
});
