/**
 * Which signals mean "shut down" on which OS. Windows has SIGINT and SIGBREAK only: adding a
 * SIGTERM listener there throws, so the choice is made here, in one place.
 * @module
 */

/** The signals that ask jetport to stop on `os`. */
export function shutdownSignals(os: typeof Deno.build.os = Deno.build.os): Deno.Signal[] {
  return os === "windows" ? ["SIGINT", "SIGBREAK"] : ["SIGINT", "SIGTERM"];
}

/** The signal that asks jetport to reload its config on `os`, if the OS has one. */
export function reloadSignal(os: typeof Deno.build.os = Deno.build.os): Deno.Signal | undefined {
  return os === "windows" ? undefined : "SIGHUP";
}

/** Signal numbers of the Unix signals jetport handles (the same on Linux and macOS). */
const SIGNAL_NUMBERS: Partial<Record<Deno.Signal, number>> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGTERM: 15,
};

/**
 * STATUS_CONTROL_C_EXIT (0xC000013A) as the signed 32-bit number `Deno.exit` takes: the code
 * Windows' own Ctrl+C/Ctrl+Break handler ends a console process with (cmd and PowerShell show
 * -1073741510). Windows has no 128 + n convention.
 */
export const WINDOWS_CONTROL_C_EXIT = 0xC000013A | 0;

/**
 * The exit code of a process stopped by `signal`, so scripts and supervisors can tell a stop from
 * a failure: on Unix 128 + its number, the shell convention (130 for SIGINT, 143 for SIGTERM); on
 * Windows STATUS_CONTROL_C_EXIT for both SIGINT and SIGBREAK, as if the default handler had run.
 */
export function signalExitCode(
  signal: Deno.Signal,
  os: typeof Deno.build.os = Deno.build.os,
): number {
  return os === "windows" ? WINDOWS_CONTROL_C_EXIT : 128 + (SIGNAL_NUMBERS[signal] ?? 0);
}

/** Exits at once with the code of `signal`: what a second stop signal does by default. */
export function exitOnSignal(signal: Deno.Signal): never {
  Deno.exit(signalExitCode(signal));
}

/**
 * Where signal listeners are registered: `Deno` itself, or a stand-in in tests, so Windows' choice
 * (SIGBREAK, which Deno rejects on Unix) can be exercised on Linux.
 */
export type SignalSource = Pick<typeof Deno, "addSignalListener" | "removeSignalListener">;

/**
 * Calls `onFirst` on the first shutdown signal and `onSecond` on any later one (by default:
 * exit at once with {@linkcode signalExitCode}). Returns a function that removes the listeners.
 */
export function onShutdownSignal(
  onFirst: (signal: Deno.Signal) => void,
  onSecond: (signal: Deno.Signal) => void = exitOnSignal,
  os: typeof Deno.build.os = Deno.build.os,
  source: SignalSource = Deno,
): () => void {
  let received = 0;
  const listeners = shutdownSignals(os).map((signal) => {
    const listener = () => (++received === 1 ? onFirst(signal) : onSecond(signal));
    source.addSignalListener(signal, listener);
    return { signal, listener };
  });
  return () => {
    for (const { signal, listener } of listeners) source.removeSignalListener(signal, listener);
  };
}
