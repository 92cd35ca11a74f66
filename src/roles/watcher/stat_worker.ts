/**
 * The script of the watcher's stat thread (`background_stat.ts`): each message is a listing, its
 * OS paths joined by NUL (which no path holds: one string crosses between threads much faster
 * than thousands), answered with their `lstat`s a slice at a time, each slice packed in one
 * transferred buffer (`stat_pack.ts`).
 * @module
 */
import { packStates } from "./stat_pack.ts";

/** A listing to `lstat`: its paths joined by NUL, and the slice size of the replies. */
export interface StatRequest {
  /** The OS paths, joined by NUL. */
  paths: string;
  /** Paths per reply. */
  slice: number;
}

/** The parts of a worker's global scope used here (the default types are the main thread's). */
interface WorkerScope {
  onmessage: ((e: MessageEvent<StatRequest>) => void) | null;
  postMessage(message: unknown, transfer: Transferable[]): void;
}

const scope = globalThis as unknown as WorkerScope;
scope.onmessage = (e) => {
  const paths = e.data.paths.split("\0");
  for (let start = 0; start < paths.length; start += e.data.slice) {
    const out = packStates(paths.slice(start, start + e.data.slice));
    scope.postMessage(out, [out.buffer]);
  }
};
