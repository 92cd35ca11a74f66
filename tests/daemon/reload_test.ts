import { parse } from "yaml";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { assert, assertEquals, assertStringIncludes, waitFor } from "../helpers/assert.ts";
import { freePort, startNatsServer } from "../helpers/nats_server.ts";
import { startDaemon } from "../helpers/jetport.ts";
import { writeConfig } from "../helpers/config.ts";
import { readyz, waitReady } from "../helpers/readyz.ts";
import { type Config, configSchema } from "../../src/roles/schemas.ts";
import { ConfigError } from "../../src/config/errors.ts";
import { Registry } from "../../src/http/metrics.ts";
import { logger } from "../../src/platform/logging.ts";
import type { NatsHandle } from "../../src/nats/connection.ts";
import type { Role, RoleContext } from "../../src/roles/role.ts";
import type { RoleName } from "../../src/roles/schemas.ts";
import { Supervisor } from "../../src/daemon/supervisor.ts";
import { planReload, startReloader } from "../../src/daemon/reload.ts";

const BASE = `
roles:
  monitor: { stream: FILES, consumer: file-monitor }
  watcher:
    watches: [{ name: storage, path: /srv/a }]
`;

function config(yaml: string): Config {
  return configSchema.parse(parse(yaml) ?? {});
}

/** Schema-only loader: the test roles need not be implemented by this build. */
async function schemaLoad(file: string): Promise<Config> {
  const result = configSchema.safeParse(parse(await Deno.readTextFile(file)) ?? {});
  if (!result.success) {
    throw new ConfigError([{ file, path: "(test)", message: result.error.message }]);
  }
  return result.data;
}

/** A role that records its lifecycle and the section it was started with. */
function recorder(events: string[]) {
  let serial = 0;
  return (name: RoleName) => (ctx: RoleContext): Role => {
    const id = `${name}#${++serial}`;
    const section = JSON.stringify(ctx.config.roles[name]);
    return {
      name,
      start: () => {
        events.push(`start ${id} ${section}`);
        return Promise.resolve();
      },
      stop: () => {
        events.push(`stop ${id}`);
        return Promise.resolve();
      },
      notReadyReason: () => undefined,
    };
  };
}

Deno.test("planReload: changed, added, removed roles; restart-only sections keep running values", () => {
  const current = config(BASE);
  const next = config(`
nats: { servers: "nats://127.0.0.1:5222" }
log: { level: debug }
roles:
  watcher:
    watches: [{ path: /srv/a, name: storage }]   # same watch, keys reordered
  monitor: { stream: FILES, consumer: other }
  stream_provisioner: {}
`);
  const plan = planReload(current, next);
  assertEquals(plan.restart, ["stream_provisioner", "monitor"]);
  assertEquals(plan.stop, []);
  assertEquals(plan.needsProcessRestart, ["nats"]);
  assertEquals(plan.log, true);
  assertEquals(plan.effective.nats, current.nats);
  assertEquals(plan.effective.log.level, "debug");

  const off = planReload(current, config(BASE.replace("file-monitor }", "x, enabled: false }")));
  assertEquals(off.restart, []);
  assertEquals(off.stop, ["monitor"]);
});

/**
 * A supervisor running recorder roles for the monitor and the watcher of `file`, and a reloader
 * on it (`watch`: also on file changes); disposing stops both.
 */
async function supervised(file: string, events: string[], watch = false) {
  const make = recorder(events);
  const factories = { watcher: make("watcher"), monitor: make("monitor") };
  const initial = await schemaLoad(file);
  const context = { nats: {} as NatsHandle, metrics: new Registry() };
  const supervisor = new Supervisor(
    (["monitor", "watcher"] as const).map((name) => ({ name, create: factories[name] })),
    {
      context: { ...context, config: initial },
      logger: (r) => logger(r),
      metrics: context.metrics,
    },
  );
  await supervisor.start();
  const reloader = startReloader({
    file,
    initial,
    supervisor,
    context,
    factories,
    ready: Promise.resolve(),
    log: logger("daemon"),
    load: schemaLoad,
    applyLogging: () => Promise.resolve(),
    watch,
  });
  return {
    reloader,
    async [Symbol.asyncDispose]() {
      await reloader.stop();
      await supervisor.stop(Date.now() + 1000);
    },
  };
}

Deno.test("reload: SIGHUP restarts only the role whose section changed; a broken file changes nothing", async () => {
  const file = await writeConfig(BASE);
  const events: string[] = [];
  await using running = await supervised(file, events);
  const { reloader } = running;
  const started = events.splice(0).map((e) => e.split(" ").slice(0, 2).join(" "));
  assertEquals(started, ["start monitor#1", "start watcher#2"]);

  // The watcher moves to another directory: SIGHUP, exactly as systemctl reload sends it.
  await Deno.writeTextFile(file, BASE.replace("/srv/a", "/srv/b"));
  Deno.kill(Deno.pid, "SIGHUP");
  await waitFor(() => events.some((e) => e.startsWith("start watcher#3")), 10_000, "restart");
  assertEquals(events.length, 2, events.join("\n"));
  assertEquals(events[0], "stop watcher#2");
  assertStringIncludes(events[1], '"path":"/srv/b"');
  events.length = 0;

  // A broken file: nothing stops, and the config in force is still the last good one.
  await Deno.writeTextFile(file, BASE + "  bogus_role: {}\n");
  assertEquals(await reloader.reload("test"), false);
  await Deno.writeTextFile(file, "roles: [unclosed\n");
  assertEquals(await reloader.reload("test"), false);
  assertEquals(events, []);
  assertEquals(reloader.current().roles.watcher?.watches[0].path, "/srv/b");

  // Removing a section stops that role for good.
  await Deno.writeTextFile(file, BASE.replace(/ {2}watcher:[^]*$/, ""));
  assertEquals(await reloader.reload("test"), true);
  assertEquals(events, ["stop watcher#3"]);
});

Deno.test("reload: with watch on, saving the config file reloads it", async () => {
  const file = await writeConfig(BASE);
  const events: string[] = [];
  await using _running = await supervised(file, events, true);
  events.length = 0;
  await Deno.writeTextFile(file, BASE.replace("file-monitor", "other"));
  await waitFor(() => events.length === 2, 10_000, "monitor restart");
  assertEquals(events[0], "stop monitor#1");
  assertStringIncludes(events[1], '"consumer":"other"');
});

Deno.test("reload: the daemon survives a broken file on SIGHUP and applies a good one", async () => {
  await using nats = await startNatsServer();
  const httpPort = freePort();
  const good = `
nats: { servers: "${nats.url}" }
http: { listen: "127.0.0.1:${httpPort}" }
shutdown: { grace: 5s }
`;
  const file = await writeConfig(good);
  await using daemon = startDaemon(file);
  await waitReady(httpPort, 15_000);

  await Deno.writeTextFile(file, good + "roles: { nonsense: true }\n");
  daemon.signal("SIGHUP");
  await daemon.waitForLog("still running on the previous config");
  assertStringIncludes(daemon.logs(), 'unknown key "nonsense"');
  assertEquals((await readyz(httpPort)).status, 200);

  // A good file with a new log format and a new http port: the format applies at once, the
  // port is reported as needing a restart and the old listener keeps serving.
  await Deno.writeTextFile(
    file,
    good.replace(String(httpPort), String(freePort())) + "log: { format: json }\n",
  );
  daemon.signal("SIGHUP");
  await daemon.waitForLog(/"message":"config reloaded \(SIGHUP\)/);
  assertStringIncludes(daemon.logs(), "http changed; that takes effect only after a restart");
  const still = await fetch(`http://127.0.0.1:${httpPort}/healthz`);
  await still.body?.cancel();
  assertEquals(still.status, 200);

  daemon.signal("SIGTERM");
  assertEquals((await daemon.exit()).code, 0, daemon.logs());
  assert(!daemon.logs().includes("Uncaught"), daemon.logs());
});

Deno.test("reload: SIGHUP with a new watcher path moves the watcher; the monitor keeps running", async () => {
  await using nats = await startNatsServer();
  const nc = await connect({ servers: nats.url });
  await (await jetstreamManager(nc)).streams.add({ name: "FILES", subjects: ["file.>"] });
  await nc.close();
  const dir = await Deno.makeTempDir({ prefix: "jetport-reload-" });
  await Deno.mkdir(`${dir}/a`);
  await Deno.mkdir(`${dir}/b`);
  const log = `${dir}/monitor/storage_monitor.log`;
  const yaml = (watched: string) => `
nats: { servers: "${nats.url}" }
http: { listen: "" }
shutdown: { grace: 5s }
state_dir: ${dir}/state
roles:
  monitor:
    output: { path: ${log} }
  watcher:
    watches: [{ name: storage, path: ${dir}/${watched}, settle: 50ms }]
`;
  const file = await writeConfig(yaml("a"));
  await using daemon = startDaemon(file);
  const logged = (name: string) =>
    Deno.readTextFile(log).then((t) => t.includes(name)).catch(() => false);
  await daemon.waitForLog("[watcher] started", 20_000);
  await Deno.writeTextFile(`${dir}/a/one.txt`, "1");
  await waitFor(() => logged("one.txt"), 20_000, "one.txt in the monitor log");

  await Deno.writeTextFile(file, yaml("b"));
  daemon.signal("SIGHUP");
  await daemon.waitForLog("config reloaded (SIGHUP)", 20_000);
  assertStringIncludes(daemon.logs(), "reload: restarting role watcher");
  assert(!daemon.logs().includes("restarting role monitor"), daemon.logs());
  assertEquals(daemon.logs().split("[monitor] started").length - 1, 1, daemon.logs());

  await Deno.writeTextFile(`${dir}/b/two.txt`, "2");
  await waitFor(() => logged("two.txt"), 20_000, "two.txt (new path) in the monitor log");
  daemon.signal("SIGTERM");
  assertEquals((await daemon.exit()).code, 0, daemon.logs());
});
