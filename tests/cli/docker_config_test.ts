import { assertEquals, assertMatch, waitFor } from "../helpers/assert.ts";
import { freePort, startNatsServer } from "../helpers/nats_server.ts";
import { startDaemon } from "../helpers/jetport.ts";
import { waitReady } from "../helpers/readyz.ts";

const CONFIG = new URL("../../config/docker/jetport.yaml", import.meta.url).pathname;

Deno.test("docker compose's config runs the adapter flow: a file dropped in storage is a monitor line", async () => {
  await using nats = await startNatsServer();
  const dir = await Deno.makeTempDir({ prefix: "jetport-docker-" });
  await Deno.mkdir(`${dir}/storage`);
  const httpPort = freePort();
  // The file compose mounts, with the container's paths moved into a temp dir.
  await using daemon = startDaemon(CONFIG, {
    NATS_URL: nats.url,
    JETPORT_STORAGE: `${dir}/storage`,
    JETPORT_MONITOR_LOG: `${dir}/monitor/storage_monitor.log`,
    JETPORT_STATE_DIR: `${dir}/state`,
    JETPORT_HTTP_LISTEN: `127.0.0.1:${httpPort}`,
  });
  await waitReady(httpPort, 30_000, "/readyz 200");
  await Deno.writeTextFile(`${dir}/storage/test.txt`, "test content\n");
  const log = `${dir}/monitor/storage_monitor.log`;
  await waitFor(
    async () => (await Deno.readTextFile(log).catch(() => "")).includes("test.txt"),
    30_000,
    "the monitor's line for test.txt",
  );
  assertMatch(
    await Deno.readTextFile(log),
    /^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] File ADDED: .*test\.txt, Size: 0\.01 KB$/m,
  );
  daemon.signal("SIGTERM");
  assertEquals((await daemon.exit()).code, 0, daemon.logs());
});

/** `docker compose` (v2 plugin) or `docker-compose` (v1), whichever answers; undefined if none. */
function composeCommand(): string[] | undefined {
  for (const cmd of [["docker", "compose"], ["docker-compose"]]) {
    try {
      const out = new Deno.Command(cmd[0], { args: [...cmd.slice(1), "version"] }).outputSync();
      if (out.success) return cmd;
    } catch { /* not installed */ }
  }
  return undefined;
}

const COMPOSE = composeCommand();
if (!COMPOSE) {
  console.warn("tests/cli/docker_config_test.ts: no docker compose client: config check skipped");
}

Deno.test({
  name:
    "docker-compose.yml is valid for compose and mounts the config, storage and monitor volumes",
  ignore: !COMPOSE,
  async fn() {
    const root = new URL("../../", import.meta.url).pathname;
    const out = await new Deno.Command(COMPOSE![0], {
      args: [...COMPOSE!.slice(1), "-f", `${root}docker-compose.yml`, "config"],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
    for (const mount of ["/etc/jetport/jetport.yaml", "/data/storage", "/data/monitor"]) {
      assertMatch(text, new RegExp(`:${mount}(:r[ow])?\\b`), mount);
    }
  },
});
