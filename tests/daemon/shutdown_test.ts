/**
 * A stop ends within `shutdown.grace` whatever NATS does: here NATS is down when SIGTERM comes,
 * with a file event still waiting in the watcher's outbox. Nothing is lost: the next start, with
 * NATS back, publishes it and the monitor writes its line.
 */
import { connect } from "@nats-io/transport-node";
import { AckPolicy, jetstreamManager } from "@nats-io/jetstream";
import { nanos } from "@nats-io/nats-core";
import { assert, assertEquals, assertMatch, waitFor } from "../helpers/assert.ts";
import { freePort, type NatsServer, startNatsServer } from "../helpers/nats_server.ts";
import { type Daemon, startDaemon } from "../helpers/jetport.ts";
import { writeConfig } from "../helpers/config.ts";

const GRACE_MS = 3000;

/** SIGTERM: the daemon exits 0 within the grace plus 2 s (the stop's promise to systemd). */
async function stopsWithinGrace(daemon: Daemon): Promise<void> {
  const t0 = Date.now();
  daemon.signal("SIGTERM");
  const status = await daemon.exit();
  const took = Date.now() - t0;
  assertEquals(status.code, 0, daemon.logs());
  assert(took < GRACE_MS + 2000, `stopped in ${took} ms; logs:\n${daemon.logs()}`);
}

async function lines(file: string): Promise<string[]> {
  const text = await Deno.readTextFile(file).catch(() => "");
  return text.split("\n").filter((l) => l !== "");
}

/** True once the monitor's consumer has acknowledged stream sequence 1. */
async function ackFloor(nats: NatsServer): Promise<boolean> {
  const nc = await connect({ servers: nats.url });
  try {
    const info = await (await jetstreamManager(nc)).consumers.info("FILES", "file-monitor");
    return info.ack_floor.stream_seq >= 1;
  } finally {
    await nc.close();
  }
}

async function metric(port: number, name: string): Promise<number | undefined> {
  const text = await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text()).catch(() =>
    ""
  );
  const m = new RegExp(`^jetport_${name}(?:\\{[^}]*\\})? (\\S+)$`, "m").exec(text);
  return m ? Number(m[1]) : undefined;
}

/**
 * Runs a watcher + monitor daemon, lets `failNats` fail the server with one event pending, stops
 * the daemon (asserting exit 0 within the grace + 2 s), brings the server back with `recover`
 * and checks that a fresh start writes the pending event's line.
 */
async function stopWhileNatsFails(
  failNats: (nats: NatsServer, daemon: Daemon) => Promise<void>,
  recover: (nats: NatsServer) => Promise<void>,
) {
  await using nats = await startNatsServer();
  {
    const nc = await connect({ servers: nats.url });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: "FILES", subjects: ["file.events"] });
    // The monitor's consumer, made as the provisioner would, with a short ack_wait: a pull request
    // the first daemon sent into the frozen server can still be served once it resumes, before it
    // has seen that connection close (seen once in CI, nats-server 2.9.10), and a message delivered
    // to a connection that is gone comes back only after ack_wait (the default 30 s was this
    // test's whole wait for pending.txt's line).
    await jsm.consumers.add("FILES", {
      durable_name: "file-monitor",
      ack_policy: AckPolicy.Explicit,
      ack_wait: nanos(5_000),
    });
    await nc.close();
  }
  const dir = await Deno.makeTempDir({ prefix: "jetport-shutdown-" });
  await Deno.mkdir(`${dir}/watched`);
  const output = `${dir}/monitor.log`;
  const httpPort = freePort();
  const file = await writeConfig(`
nats: { servers: "${nats.url}" }
http: { listen: "127.0.0.1:${httpPort}" }
shutdown: { grace: ${GRACE_MS}ms }
state_dir: ${dir}/state
roles:
  watcher:
    watches: [{ name: w, path: ${dir}/watched, stream: FILES, subject: file.events }]
  monitor: { stream: FILES, consumer: file-monitor, output: { path: ${output} } }
`);

  {
    await using daemon = startDaemon(file);
    await daemon.waitForLog(/\[watcher\] started/, 30_000);
    await daemon.waitForLog(/\[monitor\] started/, 30_000);
    await Deno.writeTextFile(`${dir}/watched/before.txt`, "x");
    await waitFor(async () => (await lines(output)).length === 1, 30_000, "line for before.txt");
    // Its ack reached the server: the restart below has nothing of it to redeliver.
    await waitFor(() => ackFloor(nats), 30_000, "before.txt acknowledged");

    await failNats(nats, daemon);
    await Deno.writeTextFile(`${dir}/watched/pending.txt`, "y");
    await waitFor(
      async () => ((await metric(httpPort, "watcher_outbox_depth")) ?? 0) >= 1,
      30_000,
      "pending.txt waits in the outbox",
    );

    await stopsWithinGrace(daemon);
  }

  await recover(nats);
  {
    await using daemon = startDaemon(file);
    await waitFor(async () => (await lines(output)).length === 2, 30_000, "line for pending.txt");
    const written = await lines(output);
    assertMatch(written[0], /before\.txt/);
    assertMatch(written[1], /pending\.txt/);
    daemon.signal("SIGTERM");
    assertEquals((await daemon.exit()).code, 0, daemon.logs());
  }
  await Deno.remove(dir, { recursive: true });
}

Deno.test("shutdown: SIGTERM with NATS down exits 0 within the grace; the next start publishes what was pending", async () => {
  await stopWhileNatsFails(
    async (nats, daemon) => {
      await nats.stop();
      await daemon.waitForLog(/disconnected from/, 30_000);
    },
    (nats) => nats.restart(),
  );
});

Deno.test("shutdown: SIGTERM with NATS frozen (connected, never answering) exits 0 within the grace; nothing lost", async () => {
  await stopWhileNatsFails(
    (nats) => nats.pause(),
    (nats) => {
      nats.resume();
      return Promise.resolve();
    },
  );
});

Deno.test("shutdown: SIGTERM while NATS was never reachable exits 0 within the grace", async () => {
  const httpPort = freePort();
  const file = await writeConfig(`
nats: { servers: "nats://127.0.0.1:${freePort()}", reconnect: { wait: 10s, max_wait: 60s } }
http: { listen: "127.0.0.1:${httpPort}" }
shutdown: { grace: ${GRACE_MS}ms }
`);
  await using daemon = startDaemon(file);
  // The first attempt failed and the daemon waits 10 s before the next one.
  await daemon.waitForLog(/cannot connect to NATS at .*connection refused.* \(retrying\)/, 30_000);
  await stopsWithinGrace(daemon);
});
