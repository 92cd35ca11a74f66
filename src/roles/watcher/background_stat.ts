/**
 * `lstat` on a thread of its own. A rescan after a burst `lstat`s every file of the tree, a
 * syscall and a `Deno.FileInfo` of four dates per file: a fifth of the main thread's time in the
 * 100k-file burst, with the publishing of the events waiting behind it. The stat thread reads
 * the states of a large listing, a slice at a time, while the scan builds and sends the events of
 * the slices already read, on the other core. The whole listing goes to the thread at once, a few
 * thousand paths a message (one string each: thousands of strings cost a tenth of the main
 * thread to send, and a whole listing as one array is several MiB more in both heaps); the
 * states come back as 32 bytes a path (3 MiB for 100k), so the thread may run as far ahead as it
 * likes.
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
/** Paths per message to the thread, at most. */
const PER_MESSAGE = 4096;

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
   * returned function resolves with the next slice's states, in order. `osPath(p)` is the OS path
   * of `p`, made a message at a time.
   */
  prefetch(paths: readonly string[], sliceSize: number, osPath?: (p: string) => string): NextSlice;
  /**
   * Starts the thread now (it ends again when idle), so that its start overlaps the listing
   * that will need it.
   */
  warm(): void;
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
  function request(paths: readonly string[], sliceSize: number, osPath: (p: string) => string) {
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
    // Whole slices per message, so each reply slice is one of the caller's.
    const step = Math.max(1, Math.floor(PER_MESSAGE / sliceSize)) * sliceSize;
    for (let i = 0; i < paths.length; i += step) {
      const message: StatRequest = {
        paths: paths.slice(i, i + step).map(osPath).join("\0"),
        slice: sliceSize,
      };
      w.postMessage(message);
    }
    return slices;
  }

  return {
    prefetch(paths, sliceSize, osPath = (p) => p) {
      const slices: Array<Promise<Float64Array | undefined> | undefined> = request(
        paths,
        sliceSize,
        osPath,
      );
      let next = 0;
      return () => {
        const slice = slices[next] ?? Promise.resolve(undefined);
        slices[next++] = undefined; // a slice read is not kept (32 bytes a path)
        return slice;
      };
    },
    warm() {
      if (!worker && start() && waiting.length === 0) idleLater();
    },
    get running() {
      return worker !== undefined;
    },
    close: stop,
    [Symbol.dispose]: stop,
  };
}
