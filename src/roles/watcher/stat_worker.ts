/**
 * The script of the watcher's stat thread (`background_stat.ts`): each message is a list of OS
 * paths, answered with their `lstat`s packed in one transferred buffer (`stat_pack.ts`).
 * @module
 */
import { packStates } from "./stat_pack.ts";

/** The parts of a worker's global scope used here (the default types are the main thread's). */
interface WorkerScope {
  onmessage: ((e: MessageEvent<string[]>) => void) | null;
  postMessage(message: unknown, transfer: Transferable[]): void;
}

const scope = globalThis as unknown as WorkerScope;
scope.onmessage = (e) => {
  const out = packStates(e.data);
  scope.postMessage(out, [out.buffer]);
};
