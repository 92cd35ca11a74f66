/**
 * The daemon's connection on a cluster: told about one node only, it learns the others from the
 * cluster's INFO and fails over to one of them when that node is killed -9; per-server
 * disconnects and reconnects show in the log and in /metrics.
 */
import { assertEquals, assertMatch, waitFor } from "../helpers/assert.ts";
import { startNatsCluster } from "../helpers/nats_cluster.ts";
import { freePort } from "../helpers/nats_server.ts";
import { startDaemon } from "../helpers/jetport.ts";
import { writeConfig } from "../helpers/config.ts";

async function readyz(port: number): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${port}/readyz`);
  await res.body?.cancel();
  return res.status;
}

const metrics = async (port: number) =>
  await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();

Deno.test("cluster: a daemon given one node fails over to a node the cluster announced", async () => {
  await using cluster = await startNatsCluster();
  const [first, ...others] = cluster.nodes;
  const httpPort = freePort();
  const file = await writeConfig(`
nats: { servers: "${first.url}", reconnect: { wait: 100ms, max_wait: 500ms, jitter: 50ms } }
http: { listen: "127.0.0.1:${httpPort}" }
`);
  await using daemon = startDaemon(file);
  await waitFor(async () => (await readyz(httpPort).catch(() => 0)) === 200, 15_000, "ready");
  // The other two nodes come from the cluster, not from the config.
  await daemon.waitForLog(/cluster .*jetport-test.*: known servers/);
  for (const n of others) await daemon.waitForLog(`127.0.0.1:${n.port}`);
  assertMatch(await metrics(httpPort), /^jetport_nats_known_servers 3$/m);

  await cluster.kill(first.name);
  await daemon.waitForLog(new RegExp(`disconnected from .*127\\.0\\.0\\.1:${first.port}`));
  await daemon.waitForLog(/reconnected to .*\(.*n[23]/, 20_000);
  await waitFor(async () => (await readyz(httpPort)) === 200, 15_000, "ready after failover");

  const text = await metrics(httpPort);
  assertMatch(
    text,
    new RegExp(
      `^jetport_nats_disconnects_total\\{server="127\\.0\\.0\\.1:${first.port}"\\} 1$`,
      "m",
    ),
  );
  const reconnected = [...text.matchAll(/^jetport_nats_reconnects_total\{server="([^"]+)"\} 1$/gm)]
    .map((m) => m[1]);
  assertEquals(reconnected.length, 1, text);
  assertEquals(
    others.some((n) => reconnected[0] === `127.0.0.1:${n.port}`),
    true,
    `reconnected to ${reconnected[0]}, one of the announced nodes`,
  );

  daemon.signal("SIGTERM");
  assertEquals((await daemon.exit()).code, 0, daemon.logs());
});
