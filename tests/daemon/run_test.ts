import {
  assert,
  assertEquals,
  assertMatch,
  assertStringIncludes,
  waitFor,
} from "../helpers/assert.ts";
import { freePort, startNatsServer } from "../helpers/nats_server.ts";
import { startDaemon } from "../helpers/jetport.ts";
import { writeConfig } from "../helpers/config.ts";
import { readyz, waitReady } from "../helpers/readyz.ts";

async function closedConnections(monitorPort: number, name: string) {
  const res = await fetch(`http://127.0.0.1:${monitorPort}/connz?state=closed`);
  const body = await res.json() as { connections?: { name?: string; reason?: string }[] };
  return (body.connections ?? []).filter((c) => c.name === name);
}

Deno.test("run: ready when connected; SIGTERM drains the connection and exits 0", async () => {
  await using nats = await startNatsServer();
  const httpPort = freePort();
  const name = `jetport-test-${crypto.randomUUID().slice(0, 8)}`;
  const file = await writeConfig(`
nats: { servers: "${nats.url}", name: ${name} }
http: { listen: "127.0.0.1:${httpPort}" }
shutdown: { grace: 5s }
`);
  await using daemon = startDaemon(file);
  await waitReady(httpPort, 15_000, "/readyz 200");
  const health = await fetch(`http://127.0.0.1:${httpPort}/healthz`);
  assertEquals(health.status, 200);
  await health.body?.cancel();
  const metrics = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  assertMatch(metrics, /^jetport_nats_connected 1$/m);

  const t0 = Date.now();
  daemon.signal("SIGTERM");
  const status = await daemon.exit();
  assertEquals(status.code, 0, daemon.logs());
  assert(Date.now() - t0 < 5000, "exit within the grace period");
  assertStringIncludes(daemon.logs(), "draining NATS connection");
  // The server saw the client close its connection itself (drain + close), not a dropped socket.
  const closed = await waitFor(
    () => closedConnections(nats.monitorPort, name).then((c) => (c.length > 0 ? c : undefined)),
  );
  assertEquals(closed[0].reason, "Client Closed");
});

Deno.test("run: starts while NATS is down, then connects; survives a NATS restart", async () => {
  await using nats = await startNatsServer();
  await nats.stop();
  const httpPort = freePort();
  const file = await writeConfig(`
nats: { servers: "${nats.url}", reconnect: { wait: 100ms, max_wait: 500ms, jitter: 50ms } }
http: { listen: "127.0.0.1:${httpPort}" }
`);
  await using daemon = startDaemon(file);
  const down = await waitFor(() => readyz(httpPort).catch(() => undefined), 15_000, "http up");
  assertEquals(down.status, 503);
  assertMatch(down.body, /connecting to/);

  await nats.restart();
  await waitReady(httpPort, 15_000, "ready after start");

  await nats.kill();
  await waitFor(async () => (await readyz(httpPort)).status === 503, 15_000, "503 while down");
  await nats.restart();
  await waitReady(httpPort, 15_000, "200 after restart");
  await daemon.waitForLog(/reconnected to/);
  const metrics = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  assertMatch(
    metrics,
    new RegExp(`^jetport_nats_reconnects_total\\{server="127\\.0\\.0\\.1:${nats.port}"\\} 1$`, "m"),
  );

  daemon.signal("SIGINT");
  assertEquals((await daemon.exit()).code, 0, daemon.logs());
});
