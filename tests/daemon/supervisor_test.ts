import { assert, assertEquals, waitFor } from "../helpers/assert.ts";
import { beforeDeadline, DEADLINE_PASSED } from "../../src/platform/delay.ts";
import { Registry } from "../../src/http/metrics.ts";
import { logger } from "../../src/platform/logging.ts";
import type { Config } from "../../src/roles/schemas.ts";
import type { NatsHandle } from "../../src/nats/connection.ts";
import type { RoleContext } from "../../src/roles/role.ts";
import { Supervisor } from "../../src/daemon/supervisor.ts";

/** A role that crashes shortly after each start; records the start times. */
function crashingRole(starts: number[], runFor: () => number) {
  return (ctx: RoleContext) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    return {
      name: "flaky",
      start() {
        starts.push(Date.now());
        timer = setTimeout(() => ctx.crash(new Error("boom")), runFor());
        return Promise.resolve();
      },
      stop() {
        clearTimeout(timer);
        return Promise.resolve();
      },
      notReadyReason: () => undefined,
    };
  };
}

function supervisor(
  create: (ctx: RoleContext) => ReturnType<ReturnType<typeof crashingRole>>,
  stableAfter: number,
) {
  const metrics = new Registry();
  const sup = new Supervisor([{ name: "flaky", create }], {
    context: { config: {} as Config, nats: {} as NatsHandle, metrics },
    logger: (role) => logger(role),
    metrics,
    restartDelay: 50,
    maxRestartDelay: 5000,
    stableAfter,
  });
  return { sup, metrics };
}

Deno.test("supervisor: a crashing role is restarted with growing delays, and counted", async () => {
  const starts: number[] = [];
  const { sup, metrics } = supervisor(crashingRole(starts, () => 5), 60_000);
  await sup.start();
  await waitFor(() => starts.length >= 4, 10_000, "four starts");
  await sup.stop(Date.now() + 1000);
  const gaps = starts.slice(1, 4).map((t, i) => t - starts[i]);
  // 50, 100, 200 ms (plus the 5 ms the role ran): each wait at least doubles the first.
  assertEquals(gaps[1] >= 100 && gaps[2] >= 200, true, `gaps ${gaps}`);
  assertEquals(metrics.counter("role_restarts_total", "").get({ role: "flaky" }) >= 3, true);
});

Deno.test("supervisor: a role that ran stably before crashing restarts after the first delay", async () => {
  const starts: number[] = [];
  // Runs 150 ms each time: longer than stableAfter (100 ms), so every crash is a "first" crash.
  const { sup } = supervisor(crashingRole(starts, () => 150), 100);
  await sup.start();
  await waitFor(() => starts.length >= 4, 10_000, "four starts");
  await sup.stop(Date.now() + 1000);
  const gaps = starts.slice(1, 4).map((t, i) => t - starts[i]);
  // Without the reset the third gap would be 150 + 200 ms; with it, 150 + 50 ms.
  assertEquals(gaps.every((g) => g < 150 + 200), true, `gaps ${gaps}`);
});

Deno.test("supervisor: a role whose stop never ends is abandoned at the deadline; the others still stop", async () => {
  const events: string[] = [];
  const role = (name: string, stop: () => Promise<void>) => (_ctx: RoleContext) => ({
    name,
    start: () => Promise.resolve(),
    stop,
    notReadyReason: () => undefined,
  });
  const metrics = new Registry();
  const sup = new Supervisor([
    {
      name: "calm",
      create: role("calm", () => {
        events.push("calm stopped");
        return Promise.resolve();
      }),
    },
    { name: "stuck", create: role("stuck", () => new Promise<void>(() => {})) },
  ], {
    context: { config: {} as Config, nats: {} as NatsHandle, metrics },
    logger: (r) => logger(r),
    metrics,
  });
  await sup.start();
  // Reverse start order: "stuck" is stopped first and must not keep "calm" from stopping.
  const stopped = await beforeDeadline(sup.stop(Date.now() + 100), Date.now() + 10_000);
  assert(stopped !== DEADLINE_PASSED, "the supervisor's stop returned");
  assertEquals(events, ["calm stopped"]);
});
