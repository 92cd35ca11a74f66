/**
 * Reconciliation of a watch: events only mark paths dirty; a dirty path is `lstat`ed once it has
 * been quiet for `settle`, and the difference between what is on disk and the tree (the snapshot)
 * is announced. New directories are scanned at once (files created inside them produce no
 * events); directories with activity are listed once quiet, and entries the listing finds but no
 * event named are a loss (events were dropped here, so they may have been dropped anywhere).
 * Each such directory, and each new one scanned, is listed once more when the whole watch has been
 * quiet for `settle`: Deno drops events while JavaScript is behind (under CPU starvation, all the
 * late events of a directory at once), and the OS watch on a new directory is added only after
 * its creation event is sent, so a scan of it can run before files written into it get events.
 * A full rescan walks the root the same way.
 * @module
 */
import type { Logger } from "@logtape/logtape";
import type { WatchConfig } from "./config.ts";
import type { PathFilter } from "./filter.ts";
import type { WatcherMetrics } from "./metrics.ts";
import { createRelistSchedule } from "./relist.ts";
import { walkTree } from "./scan.ts";
import type { Snapshot } from "./snapshot.ts";
import { type FileState, lstatState, sameState } from "./state.ts";
import { type Change, createTree, type Tree } from "./tree.ts";
import { keyParent, type OsPaths } from "../../platform/paths.ts";

/**
 * Observations are applied (and their events emitted) in chunks of this many, so a burst or a
 * scan of 100k files holds a few thousand short-lived objects at a time, not 100k long-lived ones.
 */
const CHUNK = 256;

/** What {@link createReconciler} needs. */
export interface ReconcilerOptions {
  /** The watch's config. */
  watch: WatchConfig;
  /** The watched root (an OS path, symlinks resolved). */
  root: string;
  /** The OS-path functions. */
  paths: OsPaths;
  /** The watch's filter. */
  filter: PathFilter;
  /** The snapshot to start from (the saved one, with the outbox replayed onto it). */
  snapshot: Snapshot;
  /** Announces a change (a promise when it must wait). `initial`: found by a fresh start. */
  emit(change: Change, initial: boolean): void | Promise<void>;
  /** A listing found what no event named: events were lost. */
  onLoss(reason: "listing"): void;
  /** True while no event waits to be published (see `relist.ts`). */
  idle(): boolean;
  /** The role's logger. */
  log: Logger;
  /** The role's metrics. */
  metrics: WatcherMetrics;
}

/** The reconciler of one watch. */
export interface Reconciler {
  /** The tree's snapshot (what consumers know). */
  readonly snapshot: Snapshot;
  /** Goes up by one whenever the snapshot changed (so the caller knows when to save). */
  readonly version: number;
  /** Paths marked dirty and not yet reconciled. */
  readonly dirtyCount: number;
  /** Marks `keys` dirty: an event named them at `now`. */
  mark(keys: readonly string[], now: number): void;
  /** Reconciles what is due: quiet touched directories and dirty paths, expired deletions. */
  processDue(now: number): Promise<void>;
  /** Walks the whole root. `fresh`: a start without snapshot (every file is announced). */
  rescan(reason: string, fresh?: boolean): Promise<void>;
}

/** Creates the reconciler of one watch. */
export function createReconciler(options: ReconcilerOptions): Reconciler {
  const { watch, root, paths, filter, metrics } = options;
  const settle = watch.settle;
  const labels = { watch: watch.name };
  const tree: Tree = createTree(options.snapshot);
  let version = 0;
  // Path → when it was last marked dirty (its event, or a listing that did not match).
  const dirty = new Map<string, number>();
  // Files seen still being written: their state then, so an unchanged one counts as quiet.
  const unsettled = new Map<string, FileState>();
  // Directories with activity, and new ones scanned: when they are listed (see the module doc).
  const relist = createRelistSchedule({
    root,
    paths,
    filter,
    settle,
    tree,
    dirty,
    onLoss: (reason) => options.onLoss(reason),
    idle: () => options.idle(),
  });
  // Files found by a fresh start that were still being written: announced later, still initial.
  const initialPending = new Set<string>();

  const probe = (rel: string) => lstatState(paths.fromKey(root, rel));

  const onUnreadable = unreadableLogger(options);
  const settling: Settling = { settle, tree, dirty, unsettled };
  const considerFile = (
    rel: string,
    state: FileState,
    earlier: FileState | undefined,
    now: number,
    observed: Map<string, FileState | null>,
  ) => considerSettled(settling, rel, state, earlier, now, observed);

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
      listed(dir, entries) {
        visited?.add(dir);
        const known = tree.children(dir);
        if (known.size === 0) return; // nothing known in it, so nothing can be gone
        const listed = new Set(entries);
        for (const path of known) if (!listed.has(path)) observed.set(path, null);
      },
      async states(slice) {
        for (const [path, state] of slice) {
          if (state === null) {
            if (tree.snapshot.has(path)) observed.set(path, null);
          } else if (state.dir) {
            const prev = tree.snapshot.get(path);
            if (!prev?.dir || prev.ino !== state.ino) {
              observed.set(path, state);
              if (!fresh) relist.scanned(path, now);
            }
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

  const publish = (changes: Change[], fresh: boolean) =>
    announce(changes, fresh, options, tree, initialPending);

  /** Applies `observed` to the tree (emptying it) and emits the changes. */
  async function apply(observed: Map<string, FileState | null>, now: number, fresh = false) {
    if (observed.size === 0) return;
    version++;
    const changes = tree.apply(observed, now, probe);
    observed.clear();
    await publish(changes, fresh);
  }

  return {
    get snapshot() {
      return tree.snapshot;
    },
    get version() {
      return version;
    },
    get dirtyCount() {
      return dirty.size;
    },
    mark(keys, now) {
      for (const rel of keys) {
        dirty.set(rel, now);
        unsettled.delete(rel); // written again: what was seen before says nothing now
        relist.touched(keyParent(rel), now);
      }
      if (keys.length > 0) relist.active(now); // (the cookie's events name no key)
      metrics.dirtyPaths.set(dirty.size, labels);
    },
    async processDue(now) {
      relist.listDue(now);
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
      await publish(tree.expire(Date.now(), settle), false);
      metrics.dirtyPaths.set(dirty.size, labels);
      metrics.files.set(tree.snapshot.size, labels);
    },
    async rescan(reason, fresh = false) {
      if (!rootScannable(options)) return;
      const now = Date.now();
      const observed = new Map<string, FileState | null>();
      const visited = new Set<string>();
      await reconcileTree("", now, observed, fresh, visited);
      relist.rescanned(now, Date.now());
      // Entries under a directory the walk did not list (gone, or excluded now) are gone too.
      for (const dir of tree.parents()) {
        if (visited.has(dir)) continue;
        for (const path of tree.children(dir)) observed.set(path, null);
      }
      await apply(observed, now, fresh);
      metrics.files.set(tree.snapshot.size, labels);
      // Counted once done: a test (or an operator) reading it knows the scan's changes are out.
      metrics.rescans.inc({ ...labels, reason });
    },
  };
}

/** The state that decides whether a file has stopped being written. */
interface Settling {
  /** The watch's `settle`, in ms. */
  settle: number;
  /** The reconciler's tree. */
  tree: Tree;
  /** Path → when it was last marked dirty. */
  dirty: Map<string, number>;
  /** Files seen still being written: their state then. */
  unsettled: Map<string, FileState>;
}

/** Adds a file observation when it changed and is quiet; otherwise keeps it dirty. */
function considerSettled(
  s: Settling,
  rel: string,
  state: FileState,
  earlier: FileState | undefined,
  now: number,
  observed: Map<string, FileState | null>,
) {
  s.unsettled.delete(rel);
  const prev = s.tree.snapshot.get(rel);
  if (prev && sameState(prev, state)) return;
  // Quiet: old enough, or unchanged since it was last seen being written.
  const quiet = s.settle === 0 || now - state.mtime >= s.settle ||
    (earlier !== undefined && sameState(earlier, state));
  if (quiet) observed.set(rel, state);
  else {
    s.dirty.set(rel, now);
    s.unsettled.set(rel, state);
  }
}

/** Returns a function that logs (once per path) an entry that cannot be read. */
function unreadableLogger(options: ReconcilerOptions): (rel: string, err: Error) => void {
  const { watch, root, paths, log } = options;
  // Paths that could not be read, logged once each (a scan every poll_interval must not spam).
  const unreadable = new Set<string>();
  return (rel, err) => {
    if (unreadable.has(rel)) return;
    unreadable.add(rel);
    log.warn("watch {watch}: cannot read {path} ({error}); it keeps its last known state", {
      watch: watch.name,
      path: paths.fromKey(root, rel),
      error: err.message,
    });
  };
}

/** Whether the root is a directory that can be scanned; logs why not. */
function rootScannable(options: ReconcilerOptions): boolean {
  const { watch, root, log } = options;
  try {
    const info = Deno.statSync(root);
    if (!info.isDirectory) throw new Error("not a directory");
    return true;
  } catch (err) {
    log.error(
      "watch {watch}: cannot scan {root}: {error}; nothing announced until it is back",
      { watch: watch.name, root, error: (err as Error).message },
    );
    return false;
  }
}

/** Emits the changes the watch's `events` ask for. `fresh`: found by a start without snapshot. */
async function announce(
  changes: Change[],
  fresh: boolean,
  options: ReconcilerOptions,
  tree: Tree,
  initialPending: Set<string>,
) {
  const { watch } = options;
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
    // Awaited only when it must wait: a burst emits 100k events, an await each was a promise each.
    const waiting = options.emit(change, (fresh || first) && change.type === "created");
    if (waiting) await waiting;
  }
}
