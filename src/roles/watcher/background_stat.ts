/**
 * `lstat` on a thread of its own. A rescan after a burst `lstat`s every file of the tree, a
 * syscall and a `Deno.FileInfo` of four dates per file: a fifth of the main thread's time in the
 * 100k-file burst, with the publishing of the events waiting behind it. The stat thread reads
 * the states of a large listing a few slices ahead of the scan, which meanwhile builds and sends
 * the events of the slices already read, on the other core.
 *
 * The thread starts at the first large listing and ends after {@link IDLE_MS} without work, so
 * an idle daemon holds no second JavaScript heap (about 20 MiB). If it cannot start or fails
 * (a binary built without `stat_worker.ts`), every slice is read on the main thread instead,
 * as before, and the failure is reported once.
 * @module
 */

/** Slices requested ahead of the one the scan waits for. */
const AHEAD = 8;
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
   * Starts reading the states of `paths` (OS paths), `sliceSize` at a time, a few slices ahead;
   * each call of the returned function resolves with the next slice's states, in order.
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

  function request(paths: string[]): Promise<Float64Array | undefined> {
    const w = start();
    if (!w) return Promise.resolve(undefined);
    clearTimeout(idleTimer);
    return new Promise((resolve) => {
      waiting.push(resolve);
      w.postMessage(paths);
    });
  }

  return {
    prefetch(paths, sliceSize) {
      const requested: Array<Promise<Float64Array | undefined>> = [];
      let next = 0;
      const fill = () => {
        while (requested.length < AHEAD && next < paths.length) {
          requested.push(request(paths.slice(next, next + sliceSize)));
          next += sliceSize;
        }
      };
      return () => {
        fill();
        const slice = requested.shift() ?? Promise.resolve(undefined);
        fill();
        return slice;
      };
    },
    get running() {
      return worker !== undefined;
    },
    close: stop,
    [Symbol.dispose]: stop,
  };
}
