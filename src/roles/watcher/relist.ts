/**
 * The directory re-listing schedule of a watch's reconciler. Deno drops events when JavaScript does
 * not read them fast enough (and the kernel when its queue overflows) without telling anyone, so a
 * directory with activity is listed once quiet, and entries the listing finds but no event named
 * are marked dirty and reported as a loss. Each such directory, and each new one scanned, is listed
 * once more when the whole watch has been quiet for `settle` (or after {@link RELIST_MAX_MS}): the
 * late events of a starved process are dropped all at once, and the OS watch on a new directory is
 * added only after its creation event is sent.
 * @module
 */
import type { PathFilter } from "./filter.ts";
import { unaddressable } from "./scan.ts";
import type { Tree } from "./tree.ts";
import { keyJoin, type OsPaths } from "../../platform/paths.ts";

/**
 * A directory with activity is listed again after this long even if the watch never goes quiet
 * (or its outbox never empties).
 */
const RELIST_MAX_MS = 5000;
/**
 * The shortest quiet before a listing, whatever `settle`: at `settle: 0` a busy directory was
 * listed at every tick, thousands of entries each time, on the path of every event's latency.
 */
const MIN_QUIET_MS = 100;

/** What {@link createRelistSchedule} needs. */
export interface RelistOptions {
  /** The watched root (an OS path, symlinks resolved). */
  root: string;
  /** The OS-path functions. */
  paths: OsPaths;
  /** The watch's filter. */
  filter: PathFilter;
  /** The watch's `settle`, in ms. */
  settle: number;
  /** The reconciler's tree (what the listings are compared with). */
  tree: Tree;
  /** The reconciler's dirty paths: path → when it was last marked. Listings add to it. */
  dirty: Map<string, number>;
  /** A listing found what no event named: events were lost. */
  onLoss(reason: "listing"): void;
  /**
   * True while no event waits to be published. The second listing only looks for late losses:
   * it waits for this (up to {@link RELIST_MAX_MS}) instead of taking the CPU a burst needs.
   */
  idle(): boolean;
}

/** When the directories of one watch are listed. */
export interface RelistSchedule {
  /** Directory `dir` had activity at `now`: listed once quiet, and once more later. */
  touched(dir: string, now: number): void;
  /** New directory `dir` was scanned at `now`: listed once more later. */
  scanned(dir: string, now: number): void;
  /** An event named a path at `now`: the watch is not quiet. */
  active(now: number): void;
  /**
   * A rescan that began at `began` and ended at `ended` listed every directory: the first listing
   * of directories touched before it began is done, and their second one comes once the watch is
   * quiet after it ended, or {@link RELIST_MAX_MS} after it ended (not after the touch: a rescan
   * that a burst set off takes seconds, and a forced listing of 100k entries in the middle of
   * publishing its events took the time and memory the burst needed).
   */
  rescanned(began: number, ended: number): void;
  /** Lists the directories that are due; marks what the snapshot does not match as dirty. */
  listDue(now: number): void;
}

/** Creates the re-listing schedule of one watch. */
export function createRelistSchedule(options: RelistOptions): RelistSchedule {
  const { root, paths, filter, settle, tree, dirty } = options;
  const quiet = Math.max(settle, MIN_QUIET_MS);
  // Directories with activity: listed once quiet.
  const touchedDirs = new Map<string, number>();
  // Directories with activity, and new ones scanned: directory → its last activity, listed again
  // once the whole watch is quiet (see the module doc).
  const relistDirs = new Map<string, number>();
  let lastMark = 0;

  /** Moves the directories due for their second listing to the touched ones. */
  function relistQuiet(now: number) {
    const watchQuiet = now - lastMark >= quiet && options.idle();
    for (const [dir, at] of relistDirs) {
      if ((watchQuiet && now - at >= quiet) || now - at >= RELIST_MAX_MS) {
        relistDirs.delete(dir);
        if (!touchedDirs.has(dir)) touchedDirs.set(dir, now - quiet);
      }
    }
  }

  /** Lists a touched directory and marks what the snapshot does not match as dirty. */
  function listTouched(now: number) {
    for (const [dir, at] of touchedDirs) {
      if (now - at < quiet) continue;
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
      const known = tree.children(dir);
      // Listed entries the snapshot has: when that is all of them, none is gone. Entries the
      // snapshot has need no filter either (the scan that recorded them applied it).
      let found = 0;
      const listed: string[] = [];
      for (const entry of entries) {
        const path = keyJoin(dir, entry.name);
        listed.push(path);
        if (known.has(path)) {
          found++;
          continue;
        }
        // Only what a scan would record counts (not temp files, not the cookie file).
        const wanted = entry.isDirectory ? filter.dir(path) : filter.file(path);
        if (wanted && !unaddressable(root, path)) mark(path);
      }
      if (found < known.size) {
        const names = new Set(listed);
        for (const path of known) if (!names.has(path)) mark(path);
      }
      // Events were dropped here, so they may have been dropped anywhere.
      if (missed > 0) options.onLoss("listing");
    }
  }

  return {
    touched(dir, now) {
      touchedDirs.set(dir, now);
      relistDirs.set(dir, now);
    },
    scanned(dir, now) {
      relistDirs.set(dir, now);
    },
    active(now) {
      lastMark = now;
    },
    rescanned(began, ended) {
      for (const [dir, at] of touchedDirs) if (at <= began) touchedDirs.delete(dir);
      for (const [dir, at] of relistDirs) if (at <= began) relistDirs.set(dir, ended);
    },
    listDue(now) {
      relistQuiet(now);
      listTouched(now);
    },
  };
}
