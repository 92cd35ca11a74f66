import { assert, assertEquals, assertStringIncludes } from "../helpers/assert.ts";
import { freePort, startNatsServer } from "../helpers/nats_server.ts";
import { startDaemon } from "../helpers/jetport.ts";
import { writeConfig } from "../helpers/config.ts";
import { waitReady } from "../helpers/readyz.ts";

for (const [signal, code] of [["SIGTERM", 143], ["SIGINT", 130]] as const) {
  Deno.test({
    name: `run: a second ${signal} while the shutdown waits on a frozen NATS exits ${code} at once`,
    ignore: Deno.build.os === "windows",
    async fn() {
      await using nats = await startNatsServer();
      const httpPort = freePort();
      const file = await writeConfig(`
nats: { servers: "${nats.url}" }
http: { listen: "127.0.0.1:${httpPort}" }
shutdown: { grace: 60s }
`);
      await using daemon = startDaemon(file);
      await waitReady(httpPort, 30_000);
      // Connected but never answering: the drain waits for the server, up to the grace.
      await nats.pause();
      try {
        daemon.signal(signal);
        await daemon.waitForLog(`received ${signal}; shutting down`);
        const t0 = Date.now();
        try {
          daemon.signal(signal);
        } catch (err) {
          throw new Error(
            `the daemon exited before the second ${signal}: ${err}\n${daemon.logs()}`,
          );
        }
        const status = await daemon.exit();
        assertEquals(status.code, code, daemon.logs());
        assert(Date.now() - t0 < 10_000, "at once, not after the 60 s grace");
        assertStringIncludes(daemon.logs(), `received ${signal} again; exiting now`);
      } finally {
        nats.resume();
      }
    },
  });
}
