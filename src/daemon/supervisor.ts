/**
 * Starts the enabled roles in order, restarts a role that crashes (with backoff, logged), and
 * stops them all within a grace period.
 * @module
 */
import type { Logger } from "@logtape/logtape";
import type { Registry } from "../http/metrics.ts";
import type { Role, RoleContext } from "../roles/role.ts";
import { backoffDelay } from "../nats/connection.ts";
import { beforeDeadline, DEADLINE_PASSED } from "../platform/delay.ts";

/** A role the supervisor runs: its name and how to create an instance. */
export interface SupervisedRole {
  /** The role's name. */
  name: string;
  /** Creates a fresh instance (also for restarts). */
  create: (ctx: RoleContext) => Role;
}

/** Supervisor settings. */
export interface SupervisorOptions {
  /** Shared context for every role, minus `crash` and `log`, which are per role. */
  context: Omit<RoleContext, "crash" | "log">;
  /** Logger factory per role. */
  logger: (role: string) => Logger;
  /** Metrics registry (restart counter). */
  metrics: Registry;
  /** First restart delay; doubles per consecutive crash up to `maxRestartDelay`. */
  restartDelay?: number;
  /** Largest restart delay. */
  maxRestartDelay?: number;
  /** A role running this long without failing counts as healthy again: its backoff resets. */
  stableAfter?: number;
}

interface Slot {
  spec: SupervisedRole;
  role?: Role;
  state: "starting" | "running" | "restarting" | "stopped";
  crashes: number;
  /** When the current instance finished starting. */
  runningSince?: number;
  lastError?: string;
  timer?: ReturnType<typeof setTimeout>;
}

/** How long {@link Supervisor} disposal gives its roles to stop. */
export const DISPOSE_GRACE_MS = 5000;

/** How long past its deadline a role's stop is awaited before it is abandoned. */
const STOP_OVERRUN_MS = 1000;

/** Runs roles; see the module doc. */
export class Supervisor implements AsyncDisposable {
  #slots: Slot[] = [];
  #opts: Required<SupervisorOptions>;
  #stopping = false;
  #restarts;

  /** Creates a supervisor for `roles`, started in the given order. */
  constructor(roles: SupervisedRole[], options: SupervisorOptions) {
    this.#opts = {
      restartDelay: 1000,
      maxRestartDelay: 60_000,
      stableAfter: 60_000,
      ...options,
    };
    this.#slots = roles.map((spec) => ({ spec, state: "stopped", crashes: 0 }));
    // Every role's series exists at 0 from the start, so increase() sees the first restart.
    this.#restarts = options.metrics.counter("role_restarts_total", "Role restarts after a crash", {
      labels: { role: roles.map((r) => r.name) },
    });
  }

  /** Starts every role in order; a role that fails to start is retried in the background. */
  async start(): Promise<void> {
    for (const slot of this.#slots) {
      if (this.#stopping) return;
      await this.#startSlot(slot);
    }
  }

  async #startSlot(slot: Slot): Promise<void> {
    const log = this.#opts.logger(slot.spec.name);
    const instance = slot.spec.create({
      ...this.#opts.context,
      log,
      crash: (err) => this.#onCrash(slot, instance, err),
    });
    slot.role = instance;
    slot.state = "starting";
    try {
      await instance.start();
      if (slot.role !== instance || this.#stopping) return;
      slot.state = "running";
      slot.runningSince = Date.now();
      log.info("started");
    } catch (err) {
      this.#onCrash(slot, instance, err);
    }
  }

  #onCrash(slot: Slot, instance: Role, err: unknown) {
    if (this.#stopping || slot.role !== instance || slot.state === "restarting") return;
    const log = this.#opts.logger(slot.spec.name);
    // A role that ran well for a while starts its backoff afresh: a crash a day is not a loop.
    if (
      slot.runningSince !== undefined && Date.now() - slot.runningSince >= this.#opts.stableAfter
    ) {
      slot.crashes = 0;
    }
    slot.runningSince = undefined;
    slot.state = "restarting";
    slot.crashes++;
    slot.lastError = err instanceof Error ? err.message : String(err);
    const delay = backoffDelay(
      slot.crashes - 1,
      this.#opts.restartDelay,
      this.#opts.maxRestartDelay,
      0,
    );
    log.error("role failed: {error}; restarting in {delay} ms (failure {n})", {
      error: slot.lastError,
      delay,
      n: slot.crashes,
    });
    this.#restarts.inc({ role: slot.spec.name });
    (async () => {
      await instance.stop(Date.now() + 5000).catch(() => {});
      // Stopping, or replaced by a reload meanwhile: no restart of the old spec.
      if (this.#stopping || slot.role !== instance) return;
      slot.timer = setTimeout(() => {
        slot.timer = undefined;
        if (!this.#stopping) this.#startSlot(slot);
      }, delay);
    })();
  }

  /** Uses `context` for every role started from now on (after a config reload). */
  setContext(context: SupervisorOptions["context"]): void {
    this.#opts.context = context;
  }

  /**
   * Stops role `name` (bounded by `deadline`) and starts `spec` in its place; a new name is
   * added at the end, and `spec` undefined removes the role (config reload).
   */
  async replace(name: string, spec: SupervisedRole | undefined, deadline: number): Promise<void> {
    if (this.#stopping) return;
    let slot = this.#slots.find((s) => s.spec.name === name);
    if (slot) {
      if (slot.timer !== undefined) clearTimeout(slot.timer);
      const old = slot.role;
      slot.role = undefined; // a crash report from the old instance is now ignored
      slot.state = "stopped";
      if (old) {
        await old.stop(deadline).catch(() => {});
        this.#opts.logger(name).info("stopped");
      }
      if (!spec) {
        this.#slots.splice(this.#slots.indexOf(slot), 1);
        return;
      }
      slot.spec = spec;
      slot.crashes = 0;
    } else {
      if (!spec) return;
      slot = { spec, state: "stopped", crashes: 0 };
      this.#slots.push(slot);
    }
    await this.#startSlot(slot);
  }

  /** Undefined when every role is ready, else the reasons per role. */
  notReady(): Record<string, string> {
    const reasons: Record<string, string> = {};
    for (const slot of this.#slots) {
      if (slot.state === "restarting") {
        reasons[slot.spec.name] = `restarting after: ${slot.lastError}`;
      } else if (slot.state !== "running") reasons[slot.spec.name] = slot.state;
      else {
        const r = slot.role?.notReadyReason();
        if (r) reasons[slot.spec.name] = r;
      }
    }
    return reasons;
  }

  /**
   * Stops every role, in reverse start order, each bounded by `deadline`: a role whose stop is
   * still running a second past it is logged and abandoned, so one stuck role cannot hold the
   * daemon's stop past its grace.
   */
  async stop(deadline: number): Promise<void> {
    this.#stopping = true;
    for (const slot of [...this.#slots].reverse()) {
      if (slot.timer !== undefined) clearTimeout(slot.timer);
      if (!slot.role) continue;
      const log = this.#opts.logger(slot.spec.name);
      try {
        const done = await beforeDeadline(slot.role.stop(deadline), deadline + STOP_OVERRUN_MS);
        if (done === DEADLINE_PASSED) log.error("did not stop within the grace; abandoned");
        else log.info("stopped");
      } catch (err) {
        log.error("error while stopping: {error}", { error: String(err) });
      }
      slot.state = "stopped";
    }
  }

  /** Stops every role within {@link DISPOSE_GRACE_MS}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.stop(Date.now() + DISPOSE_GRACE_MS);
  }
}
