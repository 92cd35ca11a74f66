/**
 * The reconciling core of a watch, free of I/O: it holds the snapshot, takes observations
 * (`lstat` results of paths, null where nothing is) and returns what changed. What it reports is
 * the difference between the snapshot and the observations, never what the OS claimed happened.
 * A deletion is held for `settle` so that a create of the same inode (same size and mtime) turns
 * both into one `renamed`; a new file whose inode the snapshot knows under a path that is gone
 * is a rename too, whichever half is observed first.
 * @module
 */
import type { Snapshot } from "./snapshot.ts";
import { type FileState, sameState } from "./state.ts";
import { keyParent } from "../../platform/paths.ts";

/** Kinds of change, as in the event's `type` (`file.<kind>`). */
export type ChangeType = "created" | "modified" | "deleted" | "renamed";

/** One change to announce. */
export interface Change {
  /** What happened. */
  type: ChangeType;
  /** Relative path (the new one for renames). */
  path: string;
  /** The previous path, for renames. */
  oldPath?: string;
  /** The file's state (for deletions: the last one known). */
  state: FileState;
}

/** The snapshot of one watch with the bookkeeping that pairs renames. */
export interface Tree {
  /** The current snapshot (read-only for callers). */
  readonly snapshot: Snapshot;
  /**
   * Applies observations taken at `now`; `probe(path)` is an `lstat` used to check whether the
   * old path of a possible rename is gone. Returns creations, modifications and renames (held
   * deletions come out of {@link Tree.expire}).
   */
  apply(
    observed: Map<string, FileState | null>,
    now: number,
    probe: (path: string) => FileState | null,
  ): Change[];
  /** Releases deletions held for at least `settle` ms. */
  expire(now: number, settle: number): Change[];
  /** Paths directly inside directory `dir` ("" for the root) in the snapshot. */
  children(dir: string): ReadonlySet<string>;
  /** The directories ("" for the root) that have entries in the snapshot. */
  parents(): IterableIterator<string>;
}

function sameContent(a: FileState, b: FileState): boolean {
  return a.ino !== 0 && a.ino === b.ino && a.size === b.size && a.mtime === b.mtime;
}

/** Creates the tree of a watch from a snapshot (which it then owns). */
export function createTree(snapshot: Snapshot): Tree {
  const byIno = new Map<number, string>();
  // Directory → the paths directly in it: the very strings that key the snapshot, not copies.
  const kids = new Map<string, Set<string>>();
  for (const [path, state] of snapshot) {
    if (!state.dir && state.ino) byIno.set(state.ino, path);
    link(path);
  }
  const pending = new Map<string, { state: FileState; at: number }>();
  const pendingByIno = new Map<number, string>();
  const none: ReadonlySet<string> = new Set();

  function link(path: string) {
    const dir = keyParent(path);
    let set = kids.get(dir);
    if (!set) kids.set(dir, set = new Set());
    set.add(path);
  }

  function set(path: string, state: FileState) {
    if (!snapshot.has(path)) link(path);
    snapshot.set(path, state);
    if (!state.dir && state.ino) byIno.set(state.ino, path);
  }

  function forget(path: string, state: FileState) {
    snapshot.delete(path);
    if (byIno.get(state.ino) === path) byIno.delete(state.ino);
    const dir = keyParent(path);
    const siblings = kids.get(dir);
    siblings?.delete(path);
    if (siblings?.size === 0) kids.delete(dir);
    if (state.dir) kids.delete(path);
  }

  function below(dir: string, out: string[] = []): string[] {
    for (const path of kids.get(dir) ?? []) {
      out.push(path);
      // Appended in place: spreading a 100k-path subtree into push() overflows the stack.
      if (snapshot.isDir(path)) below(path, out);
    }
    return out;
  }

  /** Removes `path` (and, for a directory, everything below); files become held deletions. */
  function remove(path: string, state: FileState, now: number) {
    if (state.dir) {
      for (const child of below(path).reverse()) {
        const childState = snapshot.get(child);
        if (childState) remove(child, childState, now);
      }
      forget(path, state);
      return;
    }
    forget(path, state);
    pending.set(path, { state, at: now });
    if (state.ino) pendingByIno.set(state.ino, path);
  }

  function unpend(path: string) {
    const held = pending.get(path);
    if (!held) return;
    pending.delete(path);
    if (pendingByIno.get(held.state.ino) === path) pendingByIno.delete(held.state.ino);
  }

  function renameSource(
    path: string,
    obs: FileState,
    probe: (path: string) => FileState | null,
  ): string | undefined {
    const held = pendingByIno.get(obs.ino);
    if (held !== undefined && held !== path && sameContent(pending.get(held)!.state, obs)) {
      unpend(held);
      return held;
    }
    const known = byIno.get(obs.ino);
    if (known === undefined || known === path) return undefined;
    const state = snapshot.get(known)!;
    if (!sameContent(state, obs) || probe(known) !== null) return undefined;
    forget(known, state);
    return known;
  }

  return {
    snapshot,
    children: (dir) => kids.get(dir) ?? none,
    parents: () => kids.keys(),
    apply(observed, now, probe) {
      for (const [path, obs] of observed) {
        const prev = snapshot.get(path);
        if (prev && (obs === null || prev.dir !== obs.dir)) remove(path, prev, now);
        if (obs?.dir && !snapshot.get(path)?.dir) set(path, obs);
      }
      const changes: Change[] = [];
      for (const [path, obs] of observed) {
        if (obs === null || obs.dir) continue;
        const prev = snapshot.get(path);
        if (prev && sameState(prev, obs)) continue;
        // The file is back (or was replaced) before its deletion went out.
        const heldHere = pending.get(path);
        unpend(path);
        const oldPath = renameSource(path, obs, probe);
        set(path, obs);
        if (oldPath !== undefined) changes.push({ type: "renamed", path, oldPath, state: obs });
        else if (prev || heldHere) {
          if (!heldHere || !sameState(heldHere.state, obs)) {
            changes.push({ type: "modified", path, state: obs });
          }
        } else changes.push({ type: "created", path, state: obs });
      }
      return changes;
    },
    expire(now, settle) {
      const changes: Change[] = [];
      for (const [path, held] of pending) {
        if (now - held.at < settle) continue;
        unpend(path);
        changes.push({ type: "deleted", path, state: held.state });
      }
      return changes;
    },
  };
}
