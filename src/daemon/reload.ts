/**
 * Config reload without a restart: SIGHUP (and, when asked for, a change of the config file)
 * re-reads the YAML. A valid file restarts exactly the roles whose section changed (added,
 * removed or edited) and applies `log` and `shutdown` at once; `nats`, `http` and `state_dir`
 * keep their running values until the next restart (they would need a new connection, listener
 * or state move), which is logged. An invalid file changes nothing: every problem is logged and
 * the daemon keeps running on the old config. Windows has no SIGHUP: restart the service there.
 * @module
 */
import type { Logger } from "@logtape/logtape";
import { ConfigError } from "../config/errors.ts";
import { loadConfig } from "../roles/checks.ts";
import { setupLogging } from "../platform/logging.ts";
import { reloadSignal } from "../platform/signals.ts";
import type { RoleFactory } from "../roles/role.ts";
import { type Config, enabledRoles, ROLE_NAMES, type RoleName } from "../roles/schemas.ts";
import type { Supervisor, SupervisorOptions } from "./supervisor.ts";

/** Config sections that are only read at start; a change waits for the next restart. */
const RESTART_ONLY = ["nats", "http", "state_dir"] as const;

/** What a reload from `current` to `next` changes. */
export interface ReloadPlan {
  /** Roles to start fresh: section edited, or newly enabled. */
  restart: RoleName[];
  /** Roles to stop for good: section removed or `enabled: false`. */
  stop: RoleName[];
  /** Sections that changed but apply only after a restart of the process. */
  needsProcessRestart: string[];
  /** Whether the `log` section changed (applied at once). */
  log: boolean;
  /** The config to run with: `next`, with the restart-only sections of `current`. */
  effective: Config;
}

/** JSON with object keys sorted, so key order in the YAML does not count as a change. */
function canonical(value: unknown): string {
  return JSON.stringify(
    value,
    (_key, v) =>
      v && typeof v === "object" && !Array.isArray(v)
        ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0))
        : v,
  );
}

/** Compares two configs; see {@link ReloadPlan}. */
export function planReload(current: Config, next: Config): ReloadPlan {
  const before = new Set(enabledRoles(current));
  const after = new Set(enabledRoles(next));
  const needsProcessRestart = RESTART_ONLY.filter((key) =>
    canonical(current[key]) !== canonical(next[key])
  );
  const effective: Config = {
    ...next,
    nats: current.nats,
    http: current.http,
    state_dir: current.state_dir,
  };
  return {
    restart: ROLE_NAMES.filter((name) =>
      after.has(name) &&
      (!before.has(name) || canonical(current.roles[name]) !== canonical(next.roles[name]))
    ),
    stop: ROLE_NAMES.filter((name) => before.has(name) && !after.has(name)),
    needsProcessRestart,
    log: canonical(current.log) !== canonical(next.log),
    effective,
  };
}

/** How the reloader finds, loads and applies a config. */
export interface ReloadOptions {
  /** The config file. */
  file: string;
  /** The config the daemon started with. */
  initial: Config;
  /** The running supervisor. */
  supervisor: Supervisor;
  /** Context for restarted roles, minus `config` (filled in from the reloaded file). */
  context: Omit<SupervisorOptions["context"], "config">;
  /** Role factories (default: the registry's). */
  factories: Partial<Record<RoleName, RoleFactory>>;
  /** Reloads wait until this resolves (the roles' first start). */
  ready: Promise<unknown>;
  /** Also reload when the config file changes (off by default: a half-saved file is common). */
  watch?: boolean;
  /** How long a restarted role may take to stop (default: `shutdown.grace`). */
  stopTimeout?: number;
  /** Where reload outcomes are logged. */
  log: Logger;
  /** Loads the file (default {@link loadConfig}). */
  load?: (file: string) => Promise<Config>;
  /** Applies a new `log` section (default {@link setupLogging}). */
  applyLogging?: (log: Config["log"]) => Promise<void>;
}

/** A running reloader; disposing it stops it. */
export interface Reloader extends AsyncDisposable {
  /** The config in force (after the last successful reload). */
  current(): Config;
  /** Reloads now (what SIGHUP does); resolves with true when the new config was applied. */
  reload(reason?: string): Promise<boolean>;
  /** Stops listening; waits for a reload in progress. */
  stop(): Promise<void>;
}

/** The debounce for file-change reloads: editors write a file in several steps. */
const WATCH_SETTLE_MS = 500;

/** Starts listening for reload requests; see the module doc. */
export function startReloader(opts: ReloadOptions): Reloader {
  const { log } = opts;
  const load = opts.load ?? loadConfig;
  const applyLogging = opts.applyLogging ?? setupLogging;
  let current = opts.initial;
  let chain: Promise<boolean> = Promise.resolve(true);
  let stopped = false;
  const halted = Promise.withResolvers<void>();

  const apply = async (reason: string): Promise<boolean> => {
    await Promise.race([opts.ready, halted.promise]);
    if (stopped) return false;
    let next: Config;
    try {
      next = await load(opts.file);
    } catch (err) {
      const detail = err instanceof ConfigError ? err.message : String(err);
      log.error("reload ({reason}) failed; still running on the previous config: {error}", {
        reason,
        error: detail,
      });
      return false;
    }
    const plan = planReload(current, next);
    if (plan.needsProcessRestart.length > 0) {
      log.warn("reload: {sections} changed; that takes effect only after a restart", {
        sections: plan.needsProcessRestart.join(", "),
      });
    }
    if (plan.log) await applyLogging(next.log);
    current = plan.effective;
    opts.supervisor.setContext({ ...opts.context, config: current });
    const deadline = () => Date.now() + (opts.stopTimeout ?? current.shutdown.grace);
    for (const name of plan.stop) {
      log.info("reload: stopping role {role} (removed or disabled)", { role: name });
      await opts.supervisor.replace(name, undefined, deadline());
    }
    for (const name of plan.restart) {
      const create = opts.factories[name];
      if (!create) continue; // validation rejects unimplemented roles; nothing to start
      log.info("reload: restarting role {role} (its section changed)", { role: name });
      await opts.supervisor.replace(name, { name, create }, deadline());
    }
    log.info("config reloaded ({reason}): {n} role(s) restarted, {m} stopped", {
      reason,
      n: plan.restart.length,
      m: plan.stop.length,
    });
    return true;
  };

  // One reload at a time, in order: a second SIGHUP during a reload runs after it.
  const reload = (reason = "requested") => {
    chain = chain.then(() => apply(reason), () => apply(reason));
    return chain;
  };

  const signal = reloadSignal();
  const onSignal = () => void reload(signal ?? "signal");
  if (signal) Deno.addSignalListener(signal, onSignal);

  let watcher: Deno.FsWatcher | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  if (opts.watch) {
    // The directory is watched, not the file: editors often replace the file by a new one.
    const m = /^(.*)[\\/]([^\\/]+)$/.exec(opts.file);
    const [dir, base] = m ? [m[1] || "/", m[2]] : [".", opts.file];
    const name = (path: string) => path.replace(/^.*[\\/]/, "");
    watcher = Deno.watchFs(dir, { recursive: false });
    (async () => {
      for await (const event of watcher!) {
        if (!event.paths.some((p) => name(p) === base)) continue;
        clearTimeout(timer);
        timer = setTimeout(() => void reload("config file changed"), WATCH_SETTLE_MS);
      }
    })().catch((err) => log.warn("config file watch ended: {error}", { error: String(err) }));
  }

  const stop = async () => {
    stopped = true;
    halted.resolve();
    if (signal) Deno.removeSignalListener(signal, onSignal);
    clearTimeout(timer);
    watcher?.close();
    await chain.catch(() => {});
  };
  return { current: () => current, reload, stop, [Symbol.asyncDispose]: stop };
}
