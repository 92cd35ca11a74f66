/**
 * The OS side of a watch: `Deno.watchFs` on the root, reopened with a backoff when it fails, and
 * the fallback to periodic scans when the OS refuses more watches (inotify's `max_user_watches`
 * or `max_user_instances`), from which the watcher is tried again every few polls. What it hears
 * goes to `onEvent`; when events may have been missed it asks for a rescan.
 * @module
 */
import type { Logger } from "@logtape/logtape";
import type { WatcherMetrics } from "./metrics.ts";

/** Opens an OS file watcher (`Deno.watchFs`, or a stand-in in tests). */
export type WatchFs = (root: string, options: { recursive: boolean }) => Deno.FsWatcher;

/** While polling, opening the OS watcher is tried again every this many polls. */
const REOPEN_EVERY_POLLS = 10;

/**
 * True when the OS refuses more watches: inotify's `max_user_watches` (ENOSPC, which Deno reports
 * as "OS file watch limit reached.") or `max_user_instances` (EMFILE).
 */
function isWatchLimit(err: unknown): boolean {
  return /watch limit|os error 28|no space left|os error 24|too many open files/i
    .test(String((err as Error)?.message ?? err));
}

/** What {@link createOsWatcher} needs. */
export interface OsWatcherOptions {
  /** The watch's name (logs, metric labels). */
  name: string;
  /** Watch subdirectories too. */
  recursive: boolean;
  /** Scan interval while polling (ms). */
  pollInterval: number;
  /** Opens the OS watcher. */
  watchFs: WatchFs;
  /** The role's logger. */
  log: Logger;
  /** The role's metrics. */
  metrics: WatcherMetrics;
  /** Called with every event. */
  onEvent(event: Deno.FsEvent): void;
  /**
   * Events may have been missed: `watcher_error` (a loss: the watcher failed and is reopened) or
   * `reopen` (back to events after polling: what changed in between).
   */
  onRescan(reason: "watcher_error" | "reopen"): void;
}

/** The running OS watcher of one root. */
export interface OsWatcher {
  /** Opens the watcher; on the OS's watch limit, falls back to polling. Other errors throw. */
  open(): void;
  /** While polling: tries the watcher again when it is time (every few poll intervals). */
  retry(now: number): void;
  /** True while the watch falls back to periodic scans. */
  readonly polling: boolean;
  /** True while an OS watcher is open (its events flow). */
  readonly watching: boolean;
  /** Closes the watcher; no reopen after this. */
  close(): void;
}

/** Creates the OS watcher of `root` (not opened yet). */
export function createOsWatcher(root: string, options: OsWatcherOptions): OsWatcher {
  const { name, log, metrics } = options;
  const labels = { watch: name };
  let watcher: Deno.FsWatcher | undefined;
  let polling = false;
  let closed = false;
  let reopenAttempt = 0;
  let lastReopenTry = 0;

  const openFs = () => options.watchFs(root, { recursive: options.recursive });

  async function pump(w: Deno.FsWatcher) {
    try {
      for await (const event of w) {
        reopenAttempt = 0;
        options.onEvent(event);
      }
      if (!closed) throw new Error("the watcher ended");
    } catch (err) {
      if (closed) return;
      if (isWatchLimit(err)) {
        startPolling(err);
        return;
      }
      options.onRescan("watcher_error");
      const wait = Math.min(30_000, 1000 * 2 ** reopenAttempt++);
      log.error("watch {watch}: watcher failed ({error}); reopening in {wait} ms", {
        watch: name,
        error: (err as Error).message,
        wait,
      });
      setTimeout(() => {
        if (!closed) open();
      }, wait);
    }
  }

  function startPolling(err: unknown) {
    try {
      watcher?.close(); // gives back the watches it holds
    } catch { /* closed already */ }
    watcher = undefined;
    lastReopenTry = Date.now();
    if (polling) return; // said so already
    polling = true;
    metrics.polling.set(1, labels);
    log.error(
      "watch {watch}: the OS refuses more file watches ({error}); falling back to a full scan " +
        "every {interval} ms. Raise fs.inotify.max_user_watches (sysctl); opening the watcher " +
        "is retried every {retry} ms.",
      {
        watch: name,
        error: (err as Error).message,
        interval: options.pollInterval,
        retry: options.pollInterval * REOPEN_EVERY_POLLS,
      },
    );
  }

  function open() {
    try {
      watcher = openFs();
      pump(watcher);
    } catch (err) {
      if (isWatchLimit(err)) startPolling(err);
      else throw err;
    }
  }

  return {
    open,
    retry(now) {
      if (!polling || closed || now - lastReopenTry < options.pollInterval * REOPEN_EVERY_POLLS) {
        return;
      }
      lastReopenTry = now;
      let w: Deno.FsWatcher;
      try {
        w = openFs();
      } catch {
        return; // still refused: keep polling, without repeating the error
      }
      watcher = w;
      polling = false;
      metrics.polling.set(0, labels);
      log.info("watch {watch}: the OS accepts file watches again; back to events", {
        watch: name,
      });
      options.onRescan("reopen");
      pump(w);
    },
    get polling() {
      return polling;
    },
    get watching() {
      return watcher !== undefined;
    },
    close() {
      closed = true;
      try {
        watcher?.close();
      } catch { /* closed already */ }
    },
  };
}
