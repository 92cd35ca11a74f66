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

/**
 * Calls `onFirst` on the first shutdown signal and `onSecond` on any later one.
 * Returns a function that removes the listeners.
 */
export function onShutdownSignal(
  onFirst: (signal: Deno.Signal) => void,
  onSecond: (signal: Deno.Signal) => void,
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
