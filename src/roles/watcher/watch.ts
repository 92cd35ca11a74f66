/**
 * One watched directory, wired from its parts: the OS watcher (with its polling fallback,
 * `os_watcher.ts`) feeds events through the intake (`intake.ts`) to the reconciler
 * (`reconcile.ts`), which announces what changed on disk; the loss detector (`loss.ts`) turns
 * signs of dropped events into rescans of the root. A full rescan also runs every
 * `rescan_interval`, or every `poll_interval` while polling. The snapshot is saved every few
 * seconds and at stop, once the events before it are durable in the outbox.
 * @module
 */
import type { Logger } from "@logtape/logtape";
import type { WatchConfig } from "./config.ts";
import { COOKIE_PREFIX, createFilter } from "./filter.ts";
import { eventKeys } from "./intake.ts";
import { createLossDetector, type LossDetector } from "./loss.ts";
import type { WatcherMetrics } from "./metrics.ts";
import { createOsWatcher, type OsWatcher, type WatchFs } from "./os_watcher.ts";
import type { OutboxRecord } from "./outbox.ts";
import { createReconciler, type Reconciler } from "./reconcile.ts";
import { createSnapshot, loadSnapshot, saveSnapshot, type Snapshot } from "./snapshot.ts";
import type { Change } from "./tree.ts";
import { type OsPaths, paths as osPaths } from "../../platform/paths.ts";

export type { WatchFs } from "./os_watcher.ts";

/** What a watch needs from the role. */
export interface WatchOptions {
  /** The watch's config. */
  watch: WatchConfig;
  /** Where its snapshot is kept. */
  snapshotPath: string;
  /**
   * Announces a change (puts its event into the outbox); a promise when it must wait. `initial`:
   * found by a fresh start.
   */
  emit(change: Change, initial: boolean): void | Promise<void>;
  /** Resolves once every emitted event is durable (called before the snapshot is saved). */
  durable(): Promise<void>;
  /** The outbox's last record number (a saved snapshot includes the changes up to it). */
  lastOutboxN(): number;
  /** Events in the outbox not yet published. */
  backlog(): number;
  /** Calls `fn` with the outbox records above `n` of this watch's changes, in order. */
  replay(n: number, fn: (record: OutboxRecord) => void): void;
  /** Called after a save: records up to `n` are no longer needed for replay. */
  saved(n: number): void;
  /** The role's logger. */
  log: Logger;
  /** The role's metrics. */
  metrics: WatcherMetrics;
  /** How often the cookie file is written (ms); 0 turns the check off. */
  cookieInterval: number;
  /** Events per second above which the kernel queue may have overflowed (then: rescan). */
  burstThreshold: number;
  /** Scan interval when the OS refuses more watches (ms). */
  pollInterval: number;
  /** Opens the OS watcher; default `Deno.watchFs`. */
  watchFs?: WatchFs;
  /** The OS-path functions; default this OS's. */
  paths?: OsPaths;
}

/** A running watch. */
export interface WatchRunner {
  /** Opens the watcher, diffs the tree against the saved snapshot, then processes events. */
  start(): Promise<void>;
  /** Stops watching and saves the snapshot. */
  stop(): Promise<void>;
  /** The root as watched (symlinks resolved), once started. */
  readonly root: string;
}

/** A watch that cannot run (missing root, ...): the message says what to do. */
export class WatchError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "WatchError";
  }
}

/**
 * A changed snapshot is saved this long after the last save, once no event waits in the outbox:
 * saving a large tree takes the CPU a burst needs, and nothing depends on saving sooner (the
 * outbox keeps every record until a saved snapshot includes its change, and a restart replays
 * them onto the older snapshot).
 */
const SAVE_EVERY = 5000;
/** The longest a changed snapshot goes unsaved, busy or not. */
const SAVE_AT_MOST = 60_000;

/** The saved snapshot of `root` with the outbox replayed onto it; undefined: none was saved. */
async function loadState(options: WatchOptions, root: string): Promise<Snapshot | undefined> {
  const saved = await loadSnapshot(options.snapshotPath, root);
  const snapshot = saved?.snapshot ?? createSnapshot();
  // Events published after the snapshot was saved: their changes are part of what consumers
  // know, so the diff must start from them (else a deletion while down would go unseen).
  options.replay(saved?.outboxN ?? 0, (rec) => {
    const c = rec.change!;
    if (c.oldPath !== undefined) snapshot.delete(c.oldPath);
    if (c.type === "deleted") snapshot.delete(c.path);
    else snapshot.set(c.path, c.state);
  });
  return saved ? snapshot : undefined;
}

/** The root with symlinks resolved; a clear error when it cannot be watched. */
function resolveRoot(watch: WatchConfig): string {
  try {
    const root = Deno.realPathSync(watch.path);
    if (!Deno.statSync(root).isDirectory) throw new Error("not a directory");
    return root;
  } catch (err) {
    throw new WatchError(
      `watch ${watch.name}: ${watch.path} is not a directory you can read ` +
        `(${(err as Error).message}); create it or fix roles.watcher.watches[].path`,
    );
  }
}

/** The parts of a started watch. */
interface Running {
  root: string;
  os: OsWatcher;
  loss: LossDetector;
  reconciler: Reconciler;
}

/** Creates the runner of one watch. */
export function createWatch(options: WatchOptions): WatchRunner {
  const { watch, log, metrics } = options;
  const settle = watch.settle;
  const filter = createFilter(watch);
  const cookieName = `${COOKIE_PREFIX}${watch.name}`;
  const tickMs = Math.max(10, Math.min(100, Math.floor(settle / 2)));
  const paths = options.paths ?? osPaths;
  let running: Running | undefined;
  let stopped = false;
  let busy: Promise<void> | undefined;
  let ticker: ReturnType<typeof setTimeout> | undefined;
  // Besides the regular ticks, one at the moment the earliest changed path is due: with a short
  // settle, waiting for the next tick was most of a file's latency (p50 17 ms at settle 0).
  let wakeTimer: ReturnType<typeof setTimeout> | undefined;
  let wakeAt = Infinity;
  let tickAgain = false;
  let lastRescan = 0;
  let lastSave = 0;
  let savedVersion = 0;

  /** Builds the parts of the watch of `root`, starting from `snapshot`. */
  function assemble(root: string, snapshot: Snapshot): Running {
    const loss = createLossDetector({
      name: watch.name,
      root,
      burstThreshold: options.burstThreshold,
      burstQuiet: Math.max(settle, 200),
      cookieInterval: options.cookieInterval,
      writeCookie: (content) => Deno.writeTextFileSync(paths.fromKey(root, cookieName), content),
      removeCookie: () => Deno.remove(paths.fromKey(root, cookieName)),
      log,
      metrics,
    });
    const reconciler = createReconciler({
      watch,
      root,
      paths,
      filter,
      snapshot,
      emit: options.emit,
      onLoss: (reason) => loss.detected(reason),
      idle: () => options.backlog() === 0,
      log,
      metrics,
    });
    const os = createOsWatcher(root, {
      name: watch.name,
      recursive: watch.recursive,
      pollInterval: options.pollInterval,
      watchFs: options.watchFs ?? Deno.watchFs,
      log,
      metrics,
      onEvent(event) {
        const now = Date.now();
        const { keys, cookie } = eventKeys(event, { root, paths, cookieName, filter });
        const lost = loss.observe(event, cookie, now);
        reconciler.mark(keys, now);
        // A loss is answered at once, not at the next regular tick: a burst's catch-up starts
        // with the rescan.
        if (lost) wakeBy(now);
        else if (keys.length > 0) wakeBy(now + settle);
      },
      onRescan: (reason) =>
        reason === "watcher_error" ? loss.detected(reason) : loss.request(reason),
    });
    return { root, os, loss, reconciler };
  }

  async function rescan(r: Running, reason: string, fresh = false) {
    lastRescan = Date.now();
    r.loss.rescanning(lastRescan, r.os.watching);
    await r.reconciler.rescan(reason, fresh);
  }

  /**
   * Saves the tree; callers hold the tick (or have stopped it), so it does not change meanwhile.
   */
  async function save(r: Running) {
    const outboxN = options.lastOutboxN();
    const version = r.reconciler.version;
    await options.durable();
    await saveSnapshot(options.snapshotPath, r.root, { snapshot: r.reconciler.snapshot, outboxN });
    options.saved(outboxN);
    lastSave = Date.now();
    savedVersion = version;
  }

  function saveDue(now: number): boolean {
    const since = now - lastSave;
    return since >= SAVE_AT_MOST ||
      (since >= SAVE_EVERY && options.backlog() === 0);
  }

  async function tick(r: Running) {
    const now = Date.now();
    const reason = r.loss.takeRescan(now);
    if (reason !== undefined) await rescan(r, reason);
    else if (now - lastRescan >= (r.os.polling ? options.pollInterval : watch.rescan_interval)) {
      await rescan(r, r.os.polling ? "poll" : "interval");
    }
    r.os.retry(now);
    await r.reconciler.processDue(Date.now());
    r.loss.cookieTick(now, r.os.watching);
    if (r.reconciler.version !== savedVersion && saveDue(now)) await save(r);
  }

  /**
   * Ticks (`again`: once more after the tick under way, if any). A regular tick that finds one
   * under way is skipped: the next one comes soon enough.
   */
  function scheduleTick(again = false) {
    if (stopped || !running) return;
    if (busy) {
      tickAgain ||= again;
      return;
    }
    busy = tick(running).catch((err) => {
      log.error("watch {watch}: {error}", { watch: watch.name, error: (err as Error).stack });
    }).finally(() => {
      busy = undefined;
      if (tickAgain) {
        tickAgain = false;
        scheduleTick();
      }
    });
  }

  /** Ticks at `due` (ms since epoch), unless a tick is due earlier anyway. */
  function wakeBy(due: number) {
    if (stopped || due >= wakeAt) return;
    clearTimeout(wakeTimer);
    wakeAt = due;
    wakeTimer = setTimeout(() => {
      wakeTimer = undefined;
      wakeAt = Infinity;
      scheduleTick(true);
    }, Math.max(0, due - Date.now()));
  }

  return {
    get root() {
      return running?.root ?? watch.path;
    },
    async start() {
      const root = resolveRoot(watch);
      const saved = await loadState(options, root);
      const initial = saved === undefined;
      const r = assemble(root, saved ?? createSnapshot());
      // The watcher before the scan: changes made during the scan are then caught as events.
      r.os.open();
      running = r;
      if (initial) {
        log.info("watch {watch}: no usable snapshot; announcing every file once", {
          watch: watch.name,
        });
      }
      await rescan(r, "start", initial);
      await save(r);
      ticker = setInterval(() => scheduleTick(), tickMs);
      log.info("watch {watch}: watching {root} ({files} entries{mode})", {
        watch: watch.name,
        root: r.root,
        files: r.reconciler.snapshot.size,
        mode: r.os.polling ? ", polling" : "",
      });
    },
    async stop() {
      stopped = true;
      clearInterval(ticker);
      clearTimeout(wakeTimer);
      running?.os.close();
      await busy;
      if (!running) return;
      await running.loss.close();
      await save(running).catch((err) =>
        log.error("watch {watch}: cannot save the snapshot: {error}", {
          watch: watch.name,
          error: (err as Error).message,
        })
      );
    },
  };
}
