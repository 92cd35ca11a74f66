import { assert, assertEquals, assertThrows } from "../helpers/assert.ts";
import { freePort, startNatsServer } from "../helpers/nats_server.ts";
import { waitReady } from "../helpers/readyz.ts";
import { beforeDeadline } from "../../src/platform/delay.ts";
import {
  onShutdownSignal,
  signalExitCode,
  type SignalSource,
  WINDOWS_CONTROL_C_EXIT,
} from "../../src/platform/signals.ts";
import { runDaemon } from "../../src/daemon/daemon.ts";
import { configSchema } from "../../src/roles/schemas.ts";

type Os = typeof Deno.build.os;

/**
 * A signal source that accepts only what Deno accepts on `os` (Windows: SIGINT and SIGBREAK,
 * anything else throws; Unix: no SIGBREAK) and lets the test deliver signals.
 */
function fakeSource(os: Os): SignalSource & { emit(s: Deno.Signal): void; count(): number } {
  const listeners = new Map<Deno.Signal, Set<() => void>>();
  const valid = (s: Deno.Signal) =>
    os === "windows" ? s === "SIGINT" || s === "SIGBREAK" : s !== "SIGBREAK";
  return {
    addSignalListener(signal, handler) {
      if (!valid(signal)) throw new TypeError(`${signal} is not supported on ${os}`);
      if (!listeners.has(signal)) listeners.set(signal, new Set());
      listeners.get(signal)!.add(handler);
    },
    removeSignalListener(signal, handler) {
      listeners.get(signal)?.delete(handler);
    },
    emit(signal) {
      for (const handler of listeners.get(signal) ?? []) handler();
    },
    count: () => [...listeners.values()].reduce((n, set) => n + set.size, 0),
  };
}

/**
 * Each OS's choice: the two stop signals, and the exit codes a later one ends the process with
 * (`code` for `second`, `firstCode` for `first` sent again).
 */
const CHOICES = [
  { os: "linux", first: "SIGTERM", second: "SIGINT", code: 130, firstCode: 143 },
  { os: "darwin", first: "SIGINT", second: "SIGTERM", code: 143, firstCode: 130 },
  // cmd and PowerShell show -1073741510, what Windows' default Ctrl+C handler exits with.
  { os: "windows", first: "SIGBREAK", second: "SIGINT", code: -1073741510, firstCode: -1073741510 },
] as const;

Deno.test("fake signal source: rejects what Deno rejects, so the OS choice is checked", () => {
  assertThrows(() => fakeSource("windows").addSignalListener("SIGTERM", () => {}), TypeError);
  assertThrows(() => fakeSource("linux").addSignalListener("SIGBREAK", () => {}), TypeError);
});

for (const { os, first, second, code, firstCode } of CHOICES) {
  Deno.test(`${os}: ${first} stops gracefully once, a later ${second} exits ${code}`, () => {
    const source = fakeSource(os);
    const calls: string[] = [];
    const remove = onShutdownSignal(
      (s) => calls.push(`first ${s}`),
      (s) => calls.push(`second ${s} ${signalExitCode(s, os)}`),
      os,
      source,
    );
    assertEquals(source.count(), 2, "one listener per stop signal");
    source.emit(first);
    assertEquals(calls, [`first ${first}`]);
    source.emit(second);
    source.emit(first);
    assertEquals(calls, [
      `first ${first}`,
      `second ${second} ${code}`,
      `second ${first} ${firstCode}`,
    ]);
    remove();
    assertEquals(source.count(), 0, "every listener removed");
  });
}

Deno.test("windows: a second stop exits with STATUS_CONTROL_C_EXIT for SIGINT and SIGBREAK", () => {
  assertEquals(WINDOWS_CONTROL_C_EXIT >>> 0, 0xC000013A);
  assertEquals(signalExitCode("SIGINT", "windows"), WINDOWS_CONTROL_C_EXIT);
  assertEquals(signalExitCode("SIGBREAK", "windows"), WINDOWS_CONTROL_C_EXIT);
  // Deno.exit takes a signed 32-bit code; Windows reads the same bits as 0xC000013A.
  assert(WINDOWS_CONTROL_C_EXIT >= -(2 ** 31) && WINDOWS_CONTROL_C_EXIT < 0);
});

for (const { os, first, second, code } of CHOICES.filter((c) => c.os !== "darwin")) {
  Deno.test({
    name: `${os}: ${first} stops the daemon within shutdown.grace while NATS is frozen; ` +
      `${second} during the stop asks for exit ${code}`,
    async fn() {
      await using nats = await startNatsServer();
      const httpPort = freePort();
      const state = await Deno.makeTempDir({ prefix: "jetport-signals-" });
      const config = configSchema.parse({
        nats: { servers: nats.url },
        http: { listen: `127.0.0.1:${httpPort}` },
        state_dir: state,
        shutdown: { grace: "2s" },
      });
      const source = fakeSource(os);
      const stop = Promise.withResolvers<void>();
      const seconds: number[] = [];
      const remove = onShutdownSignal(
        () => stop.resolve(),
        (s) => seconds.push(signalExitCode(s, os)),
        os,
        source,
      );
      const daemon = runDaemon(config, { shutdown: stop.promise });
      try {
        await waitReady(httpPort, 30_000);
        // Connected but never answering: without the grace, the drain would wait on the server.
        await nats.pause();
        source.emit(first);
        source.emit(second);
        assertEquals(seconds, [code]);
        // Far above the 2 s grace: only a stop that ignores the grace misses it.
        const exit = await beforeDeadline(daemon, Date.now() + 20_000);
        assertEquals(exit, 0, "a graceful stop exits 0");
      } finally {
        nats.resume();
        remove();
        await Deno.remove(state, { recursive: true });
      }
    },
  });
}
