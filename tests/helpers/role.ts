/**
 * Runs one role in the test's own process, on its own NATS connection, the way the supervisor
 * would: for tests that need the role's metrics or must stop it at an exact moment.
 * @module
 */
import type { Config } from "../../src/roles/schemas.ts";
import { Registry } from "../../src/http/metrics.ts";
import { openConnection } from "../../src/nats/connection.ts";
import { logger } from "../../src/platform/logging.ts";
import type { Role, RoleFactory } from "../../src/roles/role.ts";

/** A role started in this process. */
export interface InProcessRole extends AsyncDisposable {
  /** The role. */
  role: Role;
  /** Its metrics registry. */
  metrics: Registry;
  /** Errors it reported through `crash()` (also printed). */
  crashes: unknown[];
  /**
   * Stops the role with `graceMs` (default 5 s) and closes its connection (draining); once only.
   */
  stop(graceMs?: number): Promise<void>;
}

/** Connects with `config.nats`, creates the role `name` with `factory`, and starts it. */
export async function runRoleInProcess(
  config: Config,
  name: string,
  factory: RoleFactory,
): Promise<InProcessRole> {
  const metrics = new Registry();
  const nats = openConnection(config.nats, metrics);
  await nats.ready;
  const crashes: unknown[] = [];
  const role = factory({
    config,
    nats,
    metrics,
    log: logger(name),
    crash: (err) => {
      crashes.push(err);
      console.error(`${name} crashed:`, err);
    },
  });
  await role.start();
  let stopped = false;
  const stop = async (graceMs = 5000) => {
    if (stopped) return;
    stopped = true;
    await role.stop(Date.now() + graceMs);
    await nats.close();
  };
  return { role, metrics, crashes, stop, [Symbol.asyncDispose]: () => stop() };
}
