/**
 * Pure logic behind the cluster checks: a stream's health from its info (shapes as 2.9 and 2.10
 * send them, recorded with a replica killed), the cluster size seen from a server's INFO, the
 * replica and placement problems plan refuses, and the even-replica advice of validate.
 */
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import type { StreamInfo } from "@nats-io/jetstream";
import type { ServerInfo } from "@nats-io/nats-core";
import { streamHealth } from "../../src/roles/stream_provisioner/health.ts";
import { clusterView, placementProblems } from "../../src/roles/stream_provisioner/cluster.ts";
import { provisionerAdvice } from "../../src/roles/stream_provisioner/checks.ts";
import { parseConfig } from "../../src/roles/checks.ts";

const S = 1_000_000_000;

function info(replicas: number, cluster: unknown): StreamInfo {
  return { config: { name: "FILES", num_replicas: replicas }, cluster } as unknown as StreamInfo;
}

Deno.test("health: healthy R3, a dead replica (stale or not current), missing peers, no leader", () => {
  const peer = (name: string, current: boolean, active: number) => ({
    name,
    current,
    active,
    peer: name,
  });
  const healthy = streamHealth(info(3, {
    name: "c",
    leader: "n1",
    replicas: [peer("n2", true, 0.4 * S), peer("n3", true, 0.9 * S)],
  }))!;
  assertEquals([healthy.degraded, healthy.leader, healthy.replicas.length], [false, "n1", 3]);
  assertEquals(healthy.replicas[2].active_ms, 900);

  // Still `current` for ~10 s after a kill -9, but silent: degraded before the server says so.
  const stale = streamHealth(info(3, {
    name: "c",
    leader: "n1",
    replicas: [peer("n2", true, 0.4 * S), peer("n3", true, 7 * S)],
  }))!;
  assertEquals(stale.problems, ["replica n3 not heard from for 7s"]);

  const behind = streamHealth(info(3, {
    name: "c",
    leader: "n1",
    replicas: [{ ...peer("n2", false, 0.1 * S), lag: 42 }, peer("n3", true, 0)],
  }))!;
  assertEquals(behind.problems, ["replica n2 is not current (behind by 42)"]);

  const offline = streamHealth(info(3, {
    name: "c",
    leader: "n1",
    replicas: [{ ...peer("n2", false, 0), offline: true }, peer("n3", true, 0)],
  }))!;
  assertEquals(offline.problems, ["replica n2 is offline"]);

  const short = streamHealth(
    info(3, { name: "c", leader: "n1", replicas: [peer("n2", true, 0)] }),
  )!;
  assertEquals(short.problems, ["2 of 3 replicas placed"]);

  const leaderless = streamHealth(info(3, { name: "c", replicas: [peer("n2", true, 0)] }))!;
  assert(leaderless.degraded);
  assertMatch(leaderless.problems[0], /^no leader/);

  // R1 on a cluster: nothing to lose, not degraded; a single server: no cluster at all.
  assertEquals(streamHealth(info(1, { name: "c", leader: "n2" }))!.degraded, false);
  assertEquals(streamHealth(info(1, { leader: "NABC" })), undefined);
});

Deno.test("cluster view: size from the meta group, a ping, connect_urls or existing peers; problems plan refuses", () => {
  const server = (extra: Partial<ServerInfo>) =>
    ({ server_name: "n1", server_id: "NID", ...extra }) as ServerInfo;
  const three = clusterView(
    server({ cluster: "prod", connect_urls: ["a:1", "b:1", "c:1"] }),
    [],
  );
  assertEquals([three.name, three.size], ["prod", 3]);
  // One node down: two URLs, but an existing R3 stream still names three peers.
  const r3 = info(3, { name: "prod", leader: "n1", replicas: [{ name: "n2" }, { name: "n3" }] });
  assertEquals(
    clusterView(server({ cluster: "prod", connect_urls: ["a:1", "b:1"] }), [r3]).size,
    3,
  );
  assertEquals(clusterView(server({ cluster: "prod" }), []).size, undefined);
  // Just after start INFO can name 2 of 3; the servers answering the ping now name all three.
  const pinged = clusterView(server({ cluster: "prod", connect_urls: ["a:1", "b:1"] }), [], {
    servers: ["n1", "n2", "n3"],
  });
  assertEquals(pinged.size, 3);
  assertEquals(pinged.source, "3 server(s) of cluster prod answered (n1, n2, n3)");
  // The meta group (system account) counts down servers too, and is the answer when it answers.
  const meta = clusterView(server({ cluster: "prod", connect_urls: ["a:1"] }), [], {
    metaSize: 5,
    servers: ["n1"],
  });
  assertEquals([meta.size, meta.source], [
    5,
    "the JetStream meta group of cluster prod has 5 server(s)",
  ]);
  const single = clusterView(server({}), []);
  assertEquals([single.name, single.size], [undefined, 1]);

  const cfg = parseConfig(
    `roles:
  stream_provisioner:
    streams:
      - { name: A, subjects: [a], replicas: 5 }
      - { name: B, subjects: [b], replicas: 3, placement: { cluster: other } }
    kv:
      - { bucket: ok, replicas: 3 }
    consumers:
      - { stream: A, name: c, replicas: 5 }
`,
    "j.yaml",
  ).roles.stream_provisioner!;
  const problems = placementProblems(cfg, three);
  assertEquals(problems.length, 3, problems.join("\n"));
  assertMatch(
    problems[0],
    /^stream A: replicas 5 is more than the 3 server\(s\) known .*replicas: 3/,
  );
  assertMatch(problems[1], /^stream B: placement.cluster is "other" but n1 is in cluster "prod"/);
  assertMatch(problems[2], /^consumer A\/c: replicas 5/);
  const alone = placementProblems(cfg, single);
  assertMatch(alone[0], /^stream A: replicas 5 needs a JetStream cluster, but n1 is not clustered/);
  assertEquals(alone.length, 4, alone.join("\n"));
  // Unknown size (no_advertise): nothing refused on a guess.
  assertEquals(placementProblems(cfg, clusterView(server({ cluster: "other" }), [])), []);
});

Deno.test("validate advice: even replica counts get a note, odd ones none", () => {
  const config = parseConfig(
    `roles:
  stream_provisioner:
    streams:
      - { name: A, subjects: [a], replicas: 2 }
      - { name: B, subjects: [b], replicas: 3 }
    kv:
      - { bucket: k, replicas: 4 }
`,
    "j.yaml",
  );
  const advice = provisionerAdvice(config);
  assertEquals(advice.map((a) => a.path.join(".")), [
    "roles.stream_provisioner.streams.0.replicas",
    "roles.stream_provisioner.kv.0.replicas",
  ]);
  assertMatch(advice[1].message, /replicas 4: .* no more server failures than 3 .*use 3 or 5/);
});
