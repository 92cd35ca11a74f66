/**
 * The watcher's picture of a tree: relative path → {@link FileState}, and its file under
 * `state_dir` (written atomically) that lets a restart find the changes made while it was down.
 *
 * The table is column-wise (one `Map` from path to a slot, typed arrays for size, mtime, inode
 * and the directory flag) instead of one object per entry: with 100k files that is about a third
 * of the memory and nothing for the garbage collector to trace. Each path string is held once,
 * as the map's key.
 * @module
 */
import type { FileState } from "./state.ts";
import { writeFileAtomic } from "./atomic.ts";

/** A tree's state: relative `/`-separated path → state. `get` returns a fresh object. */
export interface Snapshot extends Iterable<[string, FileState]> {
  /** Paths known. */
  readonly size: number;
  /** True when `path` is known. */
  has(path: string): boolean;
  /** The state of `path` (a copy), or undefined. */
  get(path: string): FileState | undefined;
  /** True when `path` is known as a directory. */
  isDir(path: string): boolean;
  /** Sets the state of `path`. */
  set(path: string, state: FileState): void;
  /** Forgets `path`; true when it was known. */
  delete(path: string): boolean;
  /** The known paths. */
  keys(): IterableIterator<string>;
}

/** Creates a snapshot holding `entries`. */
export function createSnapshot(entries: Iterable<[string, FileState]> = []): Snapshot {
  const slots = new Map<string, number>();
  let capacity = 1024;
  let size = new Float64Array(capacity);
  let mtime = new Float64Array(capacity);
  let ino = new Float64Array(capacity);
  let dir = new Uint8Array(capacity);
  let free: number[] = [];
  let used = 0;

  function grow() {
    capacity *= 2;
    const more = <T extends Float64Array | Uint8Array>(a: T): T => {
      const b = new (a.constructor as new (n: number) => T)(capacity);
      b.set(a);
      return b;
    };
    size = more(size);
    mtime = more(mtime);
    ino = more(ino);
    dir = more(dir);
  }

  function state(slot: number): FileState {
    return { size: size[slot], mtime: mtime[slot], ino: ino[slot], dir: dir[slot] === 1 };
  }

  const snapshot: Snapshot = {
    get size() {
      return slots.size;
    },
    has: (path) => slots.has(path),
    get(path) {
      const slot = slots.get(path);
      return slot === undefined ? undefined : state(slot);
    },
    isDir(path) {
      const slot = slots.get(path);
      return slot !== undefined && dir[slot] === 1;
    },
    set(path, s) {
      let slot = slots.get(path);
      if (slot === undefined) {
        slot = free.pop();
        if (slot === undefined) {
          if (used === capacity) grow();
          slot = used++;
        }
        slots.set(path, slot);
      }
      size[slot] = s.size;
      mtime[slot] = s.mtime;
      ino[slot] = s.ino;
      dir[slot] = s.dir ? 1 : 0;
    },
    delete(path) {
      const slot = slots.get(path);
      if (slot === undefined) return false;
      slots.delete(path);
      free.push(slot);
      if (slots.size === 0) {
        free = [];
        used = 0;
      }
      return true;
    },
    keys: () => slots.keys(),
    *[Symbol.iterator]() {
      for (const [path, slot] of slots) yield [path, state(slot)];
    },
  };
  for (const [path, s] of entries) snapshot.set(path, s);
  return snapshot;
}

/** Version 1: `{version, root, outboxN, entries: [[path, size, mtime, ino, dir 0|1], ...]}`. */
interface SnapshotFile {
  version: 1;
  root: string;
  outboxN: number;
  entries: [string, number, number, number, 0 | 1][];
}

/** A snapshot as saved: the tree, and the last outbox record whose change it includes. */
export interface SavedSnapshot {
  /** The tree. */
  snapshot: Snapshot;
  /** Outbox records above this number are replayed onto the tree at load. */
  outboxN: number;
}

/** The file's text in chunks of a few thousand entries (no 100k-element intermediate). */
function* snapshotText(root: string, saved: SavedSnapshot): Generator<string> {
  yield `{"version":1,"root":${JSON.stringify(root)},"outboxN":${saved.outboxN},"entries":[`;
  let chunk: string[] = [];
  let first = true;
  for (const [path, s] of saved.snapshot) {
    chunk.push(
      `${first ? "" : ","}[${JSON.stringify(path)},${s.size},${s.mtime},${s.ino},${s.dir ? 1 : 0}]`,
    );
    first = false;
    if (chunk.length === 4096) {
      yield chunk.join("");
      chunk = [];
    }
  }
  yield chunk.join("") + "]}";
}

/** Persists `saved` (the tree at `root`) to `path`. */
export async function saveSnapshot(path: string, root: string, saved: SavedSnapshot) {
  await writeFileAtomic(path, snapshotText(root, saved));
}

/**
 * Loads the snapshot at `path`. Returns undefined when there is none, when it cannot be parsed,
 * or when it was taken of another root: the caller then starts fresh.
 */
export async function loadSnapshot(
  path: string,
  root: string,
): Promise<SavedSnapshot | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw err;
  }
  try {
    const body = JSON.parse(text) as SnapshotFile;
    if (body.version !== 1 || body.root !== root || !Array.isArray(body.entries)) return undefined;
    const snapshot = createSnapshot();
    for (const [p, size, mtime, ino, dir] of body.entries) {
      snapshot.set(p, { size, mtime, ino, dir: dir === 1 });
    }
    return { snapshot, outboxN: Number(body.outboxN) || 0 };
  } catch {
    return undefined;
  }
}
