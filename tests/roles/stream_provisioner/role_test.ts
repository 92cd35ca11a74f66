/**
 * The stream_provisioner role inside the daemon: on_start apply creates the declarations before
 * the daemon is ready; on_start verify with drift keeps /readyz at 503 with the reason.
 */
import { assertEquals, assertStringIncludes, waitFor } from "../../helpers/assert.ts";
import { freePort, startNatsServer } from "../../helpers/nats_server.ts";
import { startDaemon } from "../../helpers/jetport.ts";
import { writeConfig } from "../../helpers/config.ts";
import { readyz, waitReady } from "../../helpers/readyz.ts";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";

function config(url: string, port: number, mode: string) {
  return writeConfig(`nats: { servers: "${url}" }
http: { listen: "127.0.0.1:${port}" }
roles:
  stream_provisioner:
    on_start: ${mode}
    streams: [{ name: FILES, subjects: [file.events], max_age: 7d }]
    consumers: [{ stream: FILES, name: file-monitor }]
`);
}

Deno.test("role: on_start apply creates streams and consumers, then the daemon is ready", async () => {
  await using nats = await startNatsServer();
  const port = freePort();
  await using daemon = startDaemon(await config(nats.url, port, "apply"));
  await waitReady(port);
  assertStringIncludes(daemon.logs(), "stream FILES: created");
  const nc = await connect({ servers: nats.url });
  try {
    const jsm = await jetstreamManager(nc);
    assertEquals((await jsm.consumers.info("FILES", "file-monitor")).name, "file-monitor");
  } finally {
    await nc.close();
  }
  daemon.signal("SIGTERM");
  assertEquals((await daemon.exit()).code, 0, daemon.logs());
});

Deno.test("role: on_start verify with drift logs each difference and stays not ready", async () => {
  await using nats = await startNatsServer();
  const port = freePort();
  await using daemon = startDaemon(await config(nats.url, port, "verify"));
  await daemon.waitForLog("verify: FAILED", 20_000);
  assertStringIncludes(daemon.logs(), "stream FILES: create");
  const r = await waitFor(
    async () => {
      const res = await readyz(port);
      return res.body.includes("stream_provisioner") ? res : undefined;
    },
    10_000,
    "readyz names the role",
  );
  assertEquals(r.status, 503);
  assertStringIncludes(r.body, "the server differs from the declarations");
  daemon.signal("SIGTERM");
  assertEquals((await daemon.exit()).code, 0, daemon.logs());
});

Deno.test("role: reconcile_interval applies drift again, logged and counted", async () => {
  await using nats = await startNatsServer();
  const port = freePort();
  const file = await writeConfig(`nats: { servers: "${nats.url}" }
http: { listen: "127.0.0.1:${port}" }
roles:
  stream_provisioner:
    on_start: apply
    reconcile_interval: 1s
    streams: [{ name: FILES, subjects: [file.events], max_age: 7d }]
    consumers: [{ stream: FILES, name: file-monitor }]
`);
  await using daemon = startDaemon(file);
  await waitReady(port);
  // Someone deletes the consumer and shortens the stream's max_age by hand.
  const nc = await connect({ servers: nats.url });
  try {
    const jsm = await jetstreamManager(nc);
    await jsm.consumers.delete("FILES", "file-monitor");
    await jsm.streams.update("FILES", { max_age: 3_600_000_000_000 });
    // One reconcile may fall between the two edits: count the corrections, not the runs.
    const corrected = () =>
      fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text()).then((t) =>
        /^jetport_provisioner_drift_corrected_total 2$/m.test(t)
      );
    await waitFor(corrected, 20_000, "both objects applied again");
    assertStringIncludes(daemon.logs(), "object(s) had drifted and were applied again");
    assertEquals((await jsm.consumers.info("FILES", "file-monitor")).name, "file-monitor");
    assertEquals((await jsm.streams.info("FILES")).config.max_age, 7 * 86_400_000_000_000);
  } finally {
    await nc.close();
  }
  daemon.signal("SIGTERM");
  assertEquals((await daemon.exit()).code, 0, daemon.logs());
});
