/**
 * One holder per local path in this process. Two different events can name the same file: a
 * producer that sends an upload again with a new `event_id` keeps its `file_uuid` and file name,
 * and so the local path `<download_dir>/<file_uuid>/<name>`. Run at once, the second download
 * would overwrite the file while the first event's handler reads it, and the first to finish
 * would remove it from under the other. So a download takes the path before it places the file
 * and gives it up when the file is removed (or kept, after its handler ran); another download of
 * the same path waits in turn, its GETs and claim already done.
 * @module
 */

/** Paths held, each with the downloads waiting for it in turn. */
const held = new Map<string, (() => void)[]>();

/**
 * Resolves once this caller holds `path`; rejects with `signal`'s reason if it fires first.
 * Every resolved call must be followed by one {@link releasePath}.
 */
export function holdPath(path: string, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  const waiting = held.get(path);
  if (!waiting) {
    held.set(path, []);
    return Promise.resolve();
  }
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => {
      waiting.splice(waiting.indexOf(take), 1);
      reject(signal!.reason);
    };
    const take = () => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    };
    waiting.push(take);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** Gives `path` up: to the next waiting download, if any. */
export function releasePath(path: string): void {
  const waiting = held.get(path);
  if (!waiting) return;
  const next = waiting.shift();
  if (next) next();
  else held.delete(path);
}

/** How many paths are held now (for tests). */
export function heldPaths(): number {
  return held.size;
}
