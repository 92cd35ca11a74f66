/**
 * One watched directory, run as a reconciler: `Deno.watchFs` events only mark paths dirty; a dirty
 * path is `lstat`ed once it has been quiet for `settle` and the tree's difference is announced.
 * New directories are scanned at once (files created inside them produce no events). Lost events
 * are detected (a cookie file whose event must arrive, event bursts that may overflow the kernel
 * queue, watcher errors) and answered with a rescan of the root; a full rescan also runs every
 * `rescan_interval`. When the OS refuses more watches, the watch falls back to periodic scans.
 * @module
 */
import type { Logger } from "@logtape/logtape";
import type { WatchConfig } from "./config.ts";
import { COOKIE_PREFIX, createFilter, type PathFilter } from "./filter.ts";
import { walkTree } from "./scan.ts";
import { eventKeys } from "./intake.ts";
import {
  keyBase,
  keyJoin,
  keyParent,
  type OsPaths,
  paths as osPaths,
} from "../../platform/paths.ts";
import { createSnapshot, loadSnapshot, saveSnapshot } from "./snapshot.ts";
import { type FileState, lstatState, sameState } from "./state.ts";
import { type Change, createTree, type Tree } from "./tree.ts";
import type { WatcherMetrics } from "./metrics.ts";
import type { OutboxRecord } from "./outbox.ts";

/** Opens an OS file watcher (`Deno.watchFs`, or a stand-in in tests). */
export type WatchFs = (root: string, options: { recursive: boolean }) => Deno.FsWatcher;

/** What a watch needs from the role. */
export interface WatchOptions {
  /** The watch's config. */
  watch: WatchConfig;
  /** Where its snapshot is kept. */
  snapshotPath: string;
  /** Announces a change (puts its event into the outbox). `initial`: found by a fresh start. */
  emit(change: Change, initial: boolean): Promise<void>;
  /** Resolves once every emitted event is durable (called before the snapshot is saved). */
  durable(): Promise<void>;
  /** The outbox's last record number (a saved snapshot includes the changes up to it). */
  lastOutboxN(): number;
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

const SAVE_EVERY = 5000;
/** While polling, opening the OS watcher is tried again every this many polls. */
const REOPEN_EVERY_POLLS = 10;
/**
 * Observations are applied (and their events emitted) in chunks of this many, so a burst or a
 * scan of 100k files holds a few thousand short-lived objects at a time, not 100k long-lived ones.
 */
const CHUNK = 256;

/**
 * True when the OS refuses more watches: inotify's `max_user_watches` (ENOSPC, which Deno reports
 * as "OS file watch limit reached.") or `max_user_instances` (EMFILE).
 */
function isWatchLimit(err: unknown): boolean {
  return /watch limit|os error 28|no space left|os error 24|too many open files/i
    .test(String((err as Error)?.message ?? err));
}

/** Creates the runner of one watch. */
export function createWatch(options: WatchOptions): WatchRunner {
  const { watch, log, metrics } = options;
  const settle = watch.settle;
  const labels = { watch: watch.name };
  const filter: PathFilter = createFilter(watch);
  const cookieName = `${COOKIE_PREFIX}${watch.name}`;
  const tickMs = Math.max(10, Math.min(100, Math.floor(settle / 2)));

  let root = watch.path;
  const watchFs: WatchFs = options.watchFs ?? Deno.watchFs;
  const paths = options.paths ?? osPaths;
  let tree: Tree = createTree(createSnapshot());
  // Path → when it was last marked dirty (its event, or a listing that did not match).
  const dirty = new Map<string, number>();
  // Files seen still being written: their state then, so an unchanged one counts as quiet.
  const unsettled = new Map<string, FileState>();
  // Directories with activity: listed once quiet, since Deno drops events when JavaScript does
  // not read them fast enough (and the kernel when its queue overflows) without telling anyone.
  const touchedDirs = new Map<string, number>();
  let watcher: Deno.FsWatcher | undefined;
  let polling = false;
  let stopped = false;
  let busy: Promise<void> | undefined;
  let ticker: ReturnType<typeof setTimeout> | undefined;
  let rescanReason: string | undefined;
  let lastRescan = 0;
  let lastSave = 0;
  let unsaved = false;
  // Files found by a fresh start that were still being written: announced later, still initial.
  const initialPending = new Set<string>();
  let cookieAt = 0;
  let cookieSeen = true;
  let cookieBroken = false;
  let lastEvent = 0;
  let burstWindow = 0;
  let burstCount = 0;
  let burstPending = false;
  let reopenAttempt = 0;
  let lastReopenTry = 0;
  // Paths that could not be read, logged once each (a scan every poll_interval must not spam).
  const unreadable = new Set<string>();

  const probe = (rel: string) => lstatState(paths.fromKey(root, rel));

  /** Logs (once per path) an entry that cannot be read; it keeps its last known state. */
  function onUnreadable(rel: string, err: Error) {
    if (unreadable.has(rel)) return;
    unreadable.add(rel);
    log.warn("watch {watch}: cannot read {path} ({error}); it keeps its last known state", {
      watch: watch.name,
      path: paths.fromKey(root, rel),
      error: err.message,
    });
  }

  function lossDetected(reason: string) {
    metrics.lossDetections.inc({ ...labels, reason });
    log.warn("watch {watch}: events may have been lost ({reason}); rescanning {root}", {
      watch: watch.name,
      reason,
      root,
    });
    rescanReason = reason;
  }

  function onEvent(event: Deno.FsEvent) {
    const now = Date.now();
    lastEvent = now;
    if (now - burstWindow >= 1000) {
      burstWindow = now;
      burstCount = 0;
    }
    burstCount += event.paths.length;
    if (burstCount > options.burstThreshold) burstPending = true;
    if (event.flag === "rescan") lossDetected("overflow");
    const { keys, cookie } = eventKeys(event, { root, paths, cookieName, filter });
    if (cookie) cookieSeen = true;
    for (const rel of keys) {
      dirty.set(rel, now);
      unsettled.delete(rel); // written again: what was seen before says nothing now
      touchedDirs.set(keyParent(rel), now);
    }
    metrics.dirtyPaths.set(dirty.size, labels);
  }

  async function pump(w: Deno.FsWatcher) {
    try {
      for await (const event of w) {
        reopenAttempt = 0;
        onEvent(event);
      }
      if (!stopped) throw new Error("the watcher ended");
    } catch (err) {
      if (stopped) return;
      if (isWatchLimit(err)) {
        startPolling(err);
        return;
      }
      lossDetected("watcher_error");
      const wait = Math.min(30_000, 1000 * 2 ** reopenAttempt++);
      log.error("watch {watch}: watcher failed ({error}); reopening in {wait} ms", {
        watch: watch.name,
        error: (err as Error).message,
        wait,
      });
      setTimeout(() => {
        if (!stopped) openWatcher();
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
        watch: watch.name,
        error: (err as Error).message,
        interval: options.pollInterval,
        retry: options.pollInterval * REOPEN_EVERY_POLLS,
      },
    );
  }

  /** While polling: tries the OS watcher again; events are back once the OS accepts it. */
  function retryWatcher(now: number) {
    lastReopenTry = now;
    let w: Deno.FsWatcher;
    try {
      w = watchFs(root, { recursive: watch.recursive });
    } catch {
      return; // still refused: keep polling, without repeating the error
    }
    watcher = w;
    polling = false;
    metrics.polling.set(0, labels);
    log.info("watch {watch}: the OS accepts file watches again; back to events", {
      watch: watch.name,
    });
    // What changed between the last poll and the watcher's opening.
    rescanReason = "poll";
    pump(w);
  }

  function openWatcher() {
    try {
      watcher = watchFs(root, { recursive: watch.recursive });
      pump(watcher);
    } catch (err) {
      if (isWatchLimit(err)) startPolling(err);
      else throw err;
    }
  }

  function isQuiet(state: FileState, earlier: FileState | undefined, now: number): boolean {
    return settle === 0 || now - state.mtime >= settle ||
      (earlier !== undefined && sameState(earlier, state));
  }

  /** Adds a file observation when it changed and is quiet; otherwise keeps it dirty. */
  function considerFile(
    rel: string,
    state: FileState,
    earlier: FileState | undefined,
    now: number,
    observed: Map<string, FileState | null>,
  ) {
    unsettled.delete(rel);
    const prev = tree.snapshot.get(rel);
    if (prev && sameState(prev, state)) return;
    if (isQuiet(state, earlier, now)) observed.set(rel, state);
    else {
      dirty.set(rel, now);
      unsettled.set(rel, state);
    }
  }

  /**
   * Walks directory `rel` and everything below, observing what differs from the snapshot (entries
   * the snapshot has and the disk has not are observed gone); applied in chunks as it goes.
   * `fresh`: a start without snapshot (files still being written are announced as initial later).
   */
  async function reconcileTree(
    rel: string,
    now: number,
    observed: Map<string, FileState | null>,
    fresh = false,
    visited?: Set<string>,
  ) {
    await walkTree(root, rel, filter, watch.recursive, {
      listed(dir, paths) {
        visited?.add(dir);
        for (const path of tree.children(dir)) if (!paths.has(path)) observed.set(path, null);
      },
      async states(slice) {
        for (const [path, state] of slice) {
          if (state === null) {
            if (tree.snapshot.has(path)) observed.set(path, null);
          } else if (state.dir) {
            const prev = tree.snapshot.get(path);
            if (!prev?.dir || prev.ino !== state.ino) observed.set(path, state);
          } else {
            considerFile(path, state, unsettled.get(path), now, observed);
            if (fresh && !observed.has(path) && dirty.has(path)) initialPending.add(path);
          }
        }
        if (observed.size >= CHUNK) await apply(observed, now, fresh);
      },
      unreadable(path, err) {
        visited?.add(path); // a directory that cannot be listed: what was below it stays
        onUnreadable(path, err);
        return tree.snapshot.get(path); // a file that cannot be stat'ed: not gone
      },
    });
  }

  async function publish(changes: Change[], fresh: boolean) {
    for (const change of changes) {
      if (!watch.events.includes(change.type) && change.type !== "renamed") continue;
      if (change.type === "renamed" && !watch.events.includes("renamed")) {
        // Without `renamed`, a rename is a deletion and a creation.
        const { oldPath, ...created } = change;
        if (watch.events.includes("deleted")) {
          const old = tree.snapshot.get(oldPath!) ?? change.state;
          await options.emit({ type: "deleted", path: oldPath!, state: old }, false);
        }
        if (watch.events.includes("created")) {
          await options.emit({ ...created, type: "created" }, fresh);
        }
        continue;
      }
      const first = initialPending.delete(change.path);
      await options.emit(change, (fresh || first) && change.type === "created");
    }
  }

  /** Applies `observed` to the tree (emptying it) and emits the changes. */
  async function apply(observed: Map<string, FileState | null>, now: number, fresh = false) {
    if (observed.size === 0) return;
    unsaved = true;
    const changes = tree.apply(observed, now, probe);
    observed.clear();
    await publish(changes, fresh);
  }

  /** Lists a touched directory and marks what the snapshot does not match as dirty. */
  function listTouched(now: number) {
    for (const [dir, at] of touchedDirs) {
      if (now - at < settle) continue;
      touchedDirs.delete(dir);
      let entries: Deno.DirEntry[];
      try {
        entries = [...Deno.readDirSync(paths.fromKey(root, dir))];
      } catch {
        continue; // gone: its own event (or the parent's listing) covers it
      }
      let missed = 0;
      const mark = (path: string) => {
        if (dirty.has(path)) return;
        dirty.set(path, now - settle);
        missed++;
      };
      const names = new Set<string>();
      for (const entry of entries) {
        names.add(entry.name);
        const path = keyJoin(dir, entry.name);
        // Only what a scan would record counts (not temp files, not the cookie file).
        const wanted = entry.isDirectory ? filter.dir(path) : filter.file(path);
        if (wanted && !tree.snapshot.has(path)) mark(path);
      }
      for (const path of tree.children(dir)) {
        if (!names.has(keyBase(path))) mark(path);
      }
      // Events were dropped here, so they may have been dropped anywhere.
      if (missed > 0) lossDetected("listing");
    }
  }

  async function processDue(now: number) {
    listTouched(now);
    const observed = new Map<string, FileState | null>();
    for (const [rel, since] of dirty) {
      if (now - since < settle) continue;
      dirty.delete(rel);
      const earlier = unsettled.get(rel);
      unsettled.delete(rel);
      let state: FileState | null;
      try {
        state = probe(rel);
      } catch (err) {
        onUnreadable(rel, err as Error);
        continue;
      }
      const prev = tree.snapshot.get(rel);
      if (state === null) {
        if (prev) observed.set(rel, null);
      } else if (state.dir) {
        if (!prev?.dir || prev.ino !== state.ino) {
          observed.set(rel, state);
          await reconcileTree(rel, now, observed);
        }
      } else if (filter.file(rel)) considerFile(rel, state, earlier, now, observed);
      if (observed.size >= CHUNK) await apply(observed, now);
    }
    await apply(observed, now);
  }

  async function rescan(reason: string, fresh = false) {
    metrics.rescans.inc({ ...labels, reason });
    lastRescan = Date.now();
    try {
      const info = Deno.statSync(root);
      if (!info.isDirectory) throw new Error("not a directory");
    } catch (err) {
      log.error("watch {watch}: cannot scan {root}: {error}; nothing announced until it is back", {
        watch: watch.name,
        root,
        error: (err as Error).message,
      });
      return;
    }
    const now = Date.now();
    const observed = new Map<string, FileState | null>();
    const visited = new Set<string>();
    await reconcileTree("", now, observed, fresh, visited);
    // Entries under a directory the walk did not list (gone, or excluded now) are gone too.
    for (const dir of tree.parents()) {
      if (visited.has(dir)) continue;
      for (const path of tree.children(dir)) observed.set(path, null);
    }
    await apply(observed, now, fresh);
    metrics.files.set(tree.snapshot.size, labels);
  }

  /** Saves the tree; callers hold the tick (or have stopped it), so it does not change meanwhile. */
  async function save() {
    const outboxN = options.lastOutboxN();
    await options.durable();
    await saveSnapshot(options.snapshotPath, root, { snapshot: tree.snapshot, outboxN });
    options.saved(outboxN);
    lastSave = Date.now();
    unsaved = false;
  }

  function writeCookie(now: number) {
    if (!cookieSeen) lossDetected("cookie");
    cookieSeen = false;
    cookieAt = now;
    try {
      Deno.writeTextFileSync(paths.fromKey(root, cookieName), `${now}\n`);
    } catch (err) {
      cookieSeen = true;
      if (!cookieBroken) {
        cookieBroken = true;
        log.warn("watch {watch}: cannot write the cookie file ({error}); relying on rescans", {
          watch: watch.name,
          error: (err as Error).message,
        });
      }
    }
  }

  async function tick() {
    const now = Date.now();
    if (rescanReason !== undefined) {
      const reason = rescanReason;
      rescanReason = undefined;
      await rescan(reason);
    } else if (burstPending && now - lastEvent >= Math.max(settle, 200)) {
      burstPending = false;
      lossDetected("burst");
      rescanReason = undefined;
      await rescan("burst");
    } else if (now - lastRescan >= (polling ? options.pollInterval : watch.rescan_interval)) {
      await rescan(polling ? "poll" : "interval");
    }
    if (polling && now - lastReopenTry >= options.pollInterval * REOPEN_EVERY_POLLS) {
      retryWatcher(now);
    }
    await processDue(Date.now());
    await publish(tree.expire(Date.now(), settle), false);
    metrics.dirtyPaths.set(dirty.size, labels);
    metrics.files.set(tree.snapshot.size, labels);
    if (options.cookieInterval > 0 && watcher && now - cookieAt >= options.cookieInterval) {
      writeCookie(now);
    }
    if (unsaved && now - lastSave >= SAVE_EVERY) await save();
  }

  function scheduleTick() {
    if (busy || stopped) return;
    busy = tick().catch((err) => {
      log.error("watch {watch}: {error}", { watch: watch.name, error: (err as Error).stack });
    }).finally(() => (busy = undefined));
  }

  return {
    get root() {
      return root;
    },
    async start() {
      try {
        root = Deno.realPathSync(watch.path);
        if (!Deno.statSync(root).isDirectory) throw new Error("not a directory");
      } catch (err) {
        throw new WatchError(
          `watch ${watch.name}: ${watch.path} is not a directory you can read ` +
            `(${(err as Error).message}); create it or fix roles.watcher.watches[].path`,
        );
      }
      // The watcher first: changes made during the initial scan are then caught as events.
      openWatcher();
      const saved = await loadSnapshot(options.snapshotPath, root);
      const initial = saved === undefined;
      const snapshot = saved?.snapshot ?? createSnapshot();
      // Events published after the snapshot was saved: their changes are part of what consumers
      // know, so the diff must start from them (else a deletion while down would go unseen).
      options.replay(saved?.outboxN ?? 0, (rec) => {
        const c = rec.change!;
        if (c.oldPath !== undefined) snapshot.delete(c.oldPath);
        if (c.type === "deleted") snapshot.delete(c.path);
        else snapshot.set(c.path, c.state);
      });
      tree = createTree(snapshot);
      if (initial) {
        log.info("watch {watch}: no usable snapshot; announcing every file once", {
          watch: watch.name,
        });
      }
      await rescan("start", initial);
      await save();
      ticker = setInterval(scheduleTick, tickMs);
      log.info("watch {watch}: watching {root} ({files} entries{mode})", {
        watch: watch.name,
        root,
        files: tree.snapshot.size,
        mode: polling ? ", polling" : "",
      });
    },
    async stop() {
      stopped = true;
      clearInterval(ticker);
      try {
        watcher?.close();
      } catch { /* closed already */ }
      await busy;
      if (cookieAt) await Deno.remove(paths.fromKey(root, cookieName)).catch(() => {});
      await save().catch((err) =>
        log.error("watch {watch}: cannot save the snapshot: {error}", {
          watch: watch.name,
          error: (err as Error).message,
        })
      );
    },
  };
}
