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

/** Signal numbers of the signals jetport handles (the same on Linux and macOS; SIGBREAK: Windows). */
const SIGNAL_NUMBERS: Partial<Record<Deno.Signal, number>> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGTERM: 15,
  SIGBREAK: 21,
};

/**
 * The exit code of a process stopped by `signal`: 128 + its number, the shell convention
 * (130 for SIGINT, 143 for SIGTERM), so scripts and supervisors can tell a stop from a failure.
 */
export function signalExitCode(signal: Deno.Signal): number {
  return 128 + (SIGNAL_NUMBERS[signal] ?? 0);
}

/** Exits at once with the code of `signal`: what a second stop signal does by default. */
export function exitOnSignal(signal: Deno.Signal): never {
  Deno.exit(signalExitCode(signal));
}

/**
 * Calls `onFirst` on the first shutdown signal and `onSecond` on any later one (by default:
 * exit at once with 128 + the signal's number). Returns a function that removes the listeners.
 */
export function onShutdownSignal(
  onFirst: (signal: Deno.Signal) => void,
  onSecond: (signal: Deno.Signal) => void = exitOnSignal,
  os: typeof Deno.build.os = Deno.build.os,
): () => void {
  let received = 0;
  const listeners = shutdownSignals(os).map((signal) => {
    const listener = () => (++received === 1 ? onFirst(signal) : onSecond(signal));
    Deno.addSignalListener(signal, listener);
    return { signal, listener };
  });
  return () => {
    for (const { signal, listener } of listeners) Deno.removeSignalListener(signal, listener);
  };
}
