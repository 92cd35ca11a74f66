/**
 * The daemon: HTTP endpoint, NATS connection, supervised roles, and a clean shutdown.
 * @module
 */
import { Registry } from "../http/metrics.ts";
import { type HttpServer, startHttpServer } from "../http/server.ts";
import { openConnection } from "../nats/connection.ts";
import { logger } from "../platform/logging.ts";
import { type Config, enabledRoles } from "../roles/schemas.ts";
import { ROLE_FACTORIES } from "../roles/registry.ts";
import { Supervisor } from "./supervisor.ts";
import { startReloader } from "./reload.ts";
import { COMMIT, VERSION } from "../version.ts";
import { beforeDeadline } from "../platform/delay.ts";

/** How the daemon is run. */
export interface DaemonOptions {
  /** Resolves when the daemon should stop (first shutdown signal). */
  shutdown: Promise<unknown>;
  /** Called once the HTTP server listens, with its port. */
  onListening?: (port: number) => void;
  /** Reload the config from this file on SIGHUP (and on change, with `watch`). */
  reload?: { file: string; watch?: boolean };
}

/** Runs until `options.shutdown` resolves, then stops cleanly; returns the exit code. */
export async function runDaemon(config: Config, options: DaemonOptions): Promise<number> {
  const log = logger("daemon");
  const metrics = new Registry();
  const started = Date.now();
  metrics.gauge("build_info", "jetport version and commit").set(1, {
    version: VERSION,
    commit: COMMIT,
  });
  const uptime = metrics.gauge("uptime_seconds", "Seconds since the daemon started");

  const roles = enabledRoles(config);
  log.info("jetport {version} starting; roles: {roles}", {
    version: VERSION,
    roles: roles.join(", ") || "(none)",
  });
  try {
    await Deno.mkdir(config.state_dir, { recursive: true });
  } catch (err) {
    log.error("cannot create state_dir {dir}: {error}", {
      dir: config.state_dir,
      error: (err as Error).message,
    });
    return 1;
  }
  const nats = openConnection(config.nats, metrics);
  const supervisor = new Supervisor(
    roles.map((name) => ({ name, create: ROLE_FACTORIES[name]! })),
    { context: { config, nats, metrics }, logger: (role) => logger(role), metrics },
  );
  let rolesStarted = false;

  let http: HttpServer | undefined;
  if (config.http.listen) {
    try {
      http = startHttpServer({
        ...config.http.listen,
        metrics,
        beforeScrape: () => uptime.set(Math.round((Date.now() - started) / 1000)),
        readiness: () => {
          const reasons: Record<string, string> = {};
          const natsReason = nats.notReadyReason();
          if (natsReason) reasons.nats = natsReason;
          if (!rolesStarted) reasons.roles = "waiting for NATS";
          else Object.assign(reasons, supervisor.notReady());
          return { ready: Object.keys(reasons).length === 0, reasons };
        },
      });
      log.info("http listening on {host}:{port} (/healthz /readyz /metrics)", {
        host: config.http.listen.hostname,
        port: http.port,
      });
      options.onListening?.(http.port);
    } catch (err) {
      log.error("cannot listen on {host}:{port}: {error}", {
        host: config.http.listen.hostname,
        port: config.http.listen.port,
        error: (err as Error).message,
      });
      await nats.close();
      return 1;
    }
  }

  const rolesUp = Promise.withResolvers<void>();
  const reloader = options.reload && startReloader({
    ...options.reload,
    initial: config,
    supervisor,
    context: { nats, metrics },
    factories: ROLE_FACTORIES,
    ready: rolesUp.promise,
    log,
  });

  const stopRequested = options.shutdown.then(() => "stop" as const);
  const first = await Promise.race([nats.ready.then(() => "connected" as const), stopRequested])
    .catch((err) => {
      log.error("NATS connection failed for good: {error}", { error: (err as Error).message });
      return "failed" as const;
    });
  if (first === "connected") {
    rolesStarted = true;
    const starting = supervisor.start();
    await Promise.race([starting, stopRequested]);
    rolesUp.resolve();
    await stopRequested;
  }

  // One deadline for the whole stop: a reload in progress, the roles, then the connection gets
  // what is left.
  const grace = (reloader?.current() ?? config).shutdown.grace;
  const deadline = Date.now() + grace;
  if (reloader) await beforeDeadline(reloader.stop(), deadline);
  log.info("shutting down: stopping roles (grace {grace} ms)", { grace });
  await supervisor.stop(deadline);
  log.info("draining NATS connection ({left} ms left of the grace)", {
    left: Math.max(0, deadline - Date.now()),
  });
  await nats.close(deadline);
  await http?.close();
  log.info("stopped");
  return first === "failed" ? 1 : 0;
}
