/**
 * `lstat` on a thread of its own. A rescan after a burst `lstat`s every file of the tree, a
 * syscall and a `Deno.FileInfo` of four dates per file: a fifth of the main thread's time in the
 * 100k-file burst, with the publishing of the events waiting behind it. The stat thread reads
 * the states of a large listing, a slice at a time, while the scan builds and sends the events of
 * the slices already read, on the other core. The whole listing goes to the thread at once: the
 * states come back as 32 bytes a path (3 MiB for 100k), so it may run as far ahead as it likes.
 *
 * The thread starts at the first large listing and ends after {@link IDLE_MS} without work, so
 * an idle daemon holds no second JavaScript heap (about 20 MiB). If it cannot start or fails
 * (a binary built without `stat_worker.ts`), every slice is read on the main thread instead,
 * as before, and the failure is reported once.
 * @module
 */
import type { StatRequest } from "./stat_worker.ts";

/** The thread ends after this long without a request (ms). */
const IDLE_MS = 5000;

/** What {@link createBackgroundStat} needs. */
export interface BackgroundStatOptions {
  /** Told once when the thread cannot start or fails; slices are then read inline. */
  onError(error: Error): void;
  /** The worker script; default `stat_worker.ts` (tests give a broken one). */
  workerUrl?: string;
  /** The idle time after which the thread ends (ms); default {@link IDLE_MS}. */
  idleMs?: number;
}

/** The packed states of a slice (see `stat_pack.ts`), or undefined: read it yourself. */
export type NextSlice = () => Promise<Float64Array | undefined>;

/** A stat thread, started on demand. */
export interface BackgroundStat extends Disposable {
  /**
   * Starts reading the states of `paths` (OS paths), `sliceSize` at a time; each call of the
   * returned function resolves with the next slice's states, in order.
   */
  prefetch(paths: readonly string[], sliceSize: number): NextSlice;
  /** Whether the thread is running now. */
  readonly running: boolean;
  /** Ends the thread; slices still awaited resolve undefined. */
  close(): void;
}

/** Creates the stat thread's owner; the thread itself starts with the first request. */
export function createBackgroundStat(options: BackgroundStatOptions): BackgroundStat {
  const idleMs = options.idleMs ?? IDLE_MS;
  let worker: Worker | undefined;
  let failed = false;
  // Replies come in the order of the requests.
  const waiting: Array<(packed: Float64Array | undefined) => void> = [];
  let idleTimer: ReturnType<typeof setTimeout> | undefined;

  function stop() {
    clearTimeout(idleTimer);
    idleTimer = undefined;
    worker?.terminate();
    worker = undefined;
    for (const resolve of waiting.splice(0)) resolve(undefined);
  }

  function fail(error: Error) {
    if (failed) return;
    failed = true;
    stop();
    options.onError(error);
  }

  function start(): Worker | undefined {
    if (worker || failed) return worker;
    try {
      const url = options.workerUrl ?? new URL("./stat_worker.ts", import.meta.url).href;
      worker = new Worker(url, { type: "module" });
    } catch (err) {
      fail(err as Error);
      return undefined;
    }
    worker.onmessage = (e: MessageEvent<Float64Array>) => {
      waiting.shift()?.(e.data);
      if (waiting.length === 0) idleLater();
    };
    worker.onerror = (e: ErrorEvent) => {
      e.preventDefault(); // handled: without this the error would end the whole process
      fail(new Error(e.message));
    };
    worker.onmessageerror = () => fail(new Error("a reply of the stat thread could not be read"));
    return worker;
  }

  function idleLater() {
    clearTimeout(idleTimer);
    idleTimer = setTimeout(() => {
      idleTimer = undefined;
      if (waiting.length === 0) stop();
    }, idleMs);
    Deno.unrefTimer(idleTimer);
  }

  /** Sends `paths` to the thread; one promise per slice of the reply, in order. */
  function request(paths: readonly string[], sliceSize: number) {
    const count = Math.ceil(paths.length / sliceSize);
    if (count === 0) return [];
    const w = start();
    if (!w) return Array.from({ length: count }, () => Promise.resolve(undefined));
    clearTimeout(idleTimer);
    const slices = Array.from({ length: count }, () => {
      const { promise, resolve } = Promise.withResolvers<Float64Array | undefined>();
      waiting.push(resolve);
      return promise;
    });
    const message: StatRequest = { paths: paths.join("\0"), slice: sliceSize };
    w.postMessage(message);
    return slices;
  }

  return {
    prefetch(paths, sliceSize) {
      const slices = request(paths, sliceSize);
      let next = 0;
      return () => slices[next++] ?? Promise.resolve(undefined);
    },
    get running() {
      return worker !== undefined;
    },
    close: stop,
    [Symbol.dispose]: stop,
  };
}
