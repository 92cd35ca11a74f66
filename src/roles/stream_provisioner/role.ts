/**
 * The stream_provisioner role: runs its `on_start` mode when the daemon starts. The supervisor
 * starts it before every other role and waits for `start()`, so declared streams and consumers
 * exist before anything consumes from them.
 *
 * Drift found by `verify` (or a destructive change `apply` refused) is not fatal: the other roles
 * may well work with what is there, and crashing would only restart this role in a loop. Instead
 * every difference is logged at error level, `/readyz` reports the role not ready with the reason,
 * and the check is repeated every minute, so the role turns ready once someone fixes the server
 * or the YAML (and restarts). Errors talking to the server do throw: the supervisor retries.
 *
 * With `reconcile_interval` (and `on_start: apply`) the role acts as a controller: every interval
 * it applies again, without destructive changes (those are reported, never made unattended),
 * logging and counting every object it brought back.
 * @module
 */
import type { Role, RoleContext } from "../role.ts";
import { provision, streamOwners } from "./provision.ts";
import { ProvisionError } from "./errors.ts";
import type { ProvisionerConfig } from "./config.ts";

/** How often a drifted role checks again. */
const RECHECK_MS = 60_000;

/** Creates the role. */
export function createStreamProvisioner(ctx: RoleContext, cfg: ProvisionerConfig): Role {
  const { log } = ctx;
  let notReady: string | undefined = "provisioning";
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;
  const reconciles = ctx.metrics.counter(
    "provisioner_reconciles_total",
    "Periodic re-applies of the declarations (reconcile_interval)",
    { labels: {} },
  );
  const corrected = ctx.metrics.counter(
    "provisioner_drift_corrected_total",
    "Declared objects a periodic re-apply created or changed back to the declaration",
    { labels: {} },
  );

  async function run(mode: "apply" | "verify" | "plan", reconcile = false) {
    const nc = await ctx.nats.ready;
    try {
      const result = await provision(nc, cfg, mode, {
        allowDestructive: cfg.allow_destructive && !reconcile,
        owners: streamOwners(ctx.config),
        // A tagged template: plan lines contain braces, which a message template would parse.
        progress: (level, line) => log[level]`${line}`,
      });
      if (reconcile) {
        reconciles.inc();
        const a = result.applied;
        const n = a ? a.created + a.updated + a.recreated : 0;
        if (n > 0) {
          corrected.inc({}, n);
          log.warning("reconcile: {n} object(s) had drifted and were applied again", { n });
        }
      }
      // `plan` only reports; it never makes the daemon unready.
      notReady = result.drift && mode !== "plan"
        ? `the server differs from the declarations (${mode}); see the log or run ` +
          "`jetport provision plan`"
        : undefined;
    } catch (err) {
      if (!(err instanceof ProvisionError)) throw err;
      // Retrying cannot fix the YAML or the server version: report it and stay unready.
      for (const p of err.problems) log.error`${p}`;
      notReady = err.message.split("\n")[0];
    }
    if (stopped) return;
    if (cfg.reconcile_interval) timer = setTimeout(() => again("apply"), cfg.reconcile_interval);
    else if (notReady) timer = setTimeout(() => again("verify"), RECHECK_MS);
  }

  function again(mode: "apply" | "verify") {
    timer = undefined;
    if (stopped) return;
    run(mode, mode === "apply").catch((err) => ctx.crash(err));
  }

  return {
    name: "stream_provisioner",
    async start() {
      if (cfg.on_start === "none") {
        notReady = undefined;
        return;
      }
      log.info("on_start: {mode}", { mode: cfg.on_start });
      await run(cfg.on_start);
    },
    stop() {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      return Promise.resolve();
    },
    notReadyReason: () => notReady,
  };
}
