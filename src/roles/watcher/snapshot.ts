/**
 * The watcher's picture of a tree: relative path → size, mtime, inode, is-dir. It is persisted
 * under `state_dir` (written atomically) so changes made while the daemon was down are found by
 * diffing the tree against it at start.
 * @module
 */

/** What the watcher remembers of one path. */
export interface FileState {
  /** Size in bytes. */
  size: number;
  /** Modification time, ms since epoch. */
  mtime: number;
  /** Inode number (0 where the platform has none); pairs the halves of a rename. */
  ino: number;
  /** True for a directory. */
  dir: boolean;
}

/** A tree's state: relative `/`-separated path → state. */
export type Snapshot = Map<string, FileState>;

/** Converts `Deno.lstat` output to a {@link FileState}. */
export function toFileState(info: Deno.FileInfo): FileState {
  return {
    size: info.isDirectory ? 0 : info.size,
    mtime: info.mtime?.getTime() ?? 0,
    ino: info.ino ?? 0,
    dir: info.isDirectory,
  };
}

/** True when two states describe the same file version. */
export function sameState(a: FileState, b: FileState): boolean {
  return a.size === b.size && a.mtime === b.mtime && a.ino === b.ino && a.dir === b.dir;
}

/** `lstat` of `path` as a {@link FileState}, or null when nothing is there. */
export function lstatState(path: string): FileState | null {
  try {
    return toFileState(Deno.lstatSync(path));
  } catch (err) {
    if (err instanceof Deno.errors.NotFound || err instanceof Deno.errors.NotADirectory) {
      return null;
    }
    throw err;
  }
}

interface SnapshotFile {
  version: 1;
  root: string;
  outboxN: number;
  entries: [string, number, number, number, 0 | 1][];
}

/** Writes `text` to `path` atomically: temp file, fsync, rename. */
export async function writeFileAtomic(path: string, text: string): Promise<void> {
  const tmp = `${path}.tmp-${Deno.pid}`;
  const file = await Deno.open(tmp, { write: true, create: true, truncate: true });
  try {
    const data = new TextEncoder().encode(text);
    let written = 0;
    while (written < data.length) written += await file.write(data.subarray(written));
    await file.syncData();
  } finally {
    file.close();
  }
  await Deno.rename(tmp, path);
}

/** A snapshot as saved: the tree, and the last outbox record whose change it includes. */
export interface SavedSnapshot {
  /** The tree. */
  snapshot: Snapshot;
  /** Outbox records above this number are replayed onto the tree at load. */
  outboxN: number;
}

/** Persists `snapshot` of the tree at `root` to `path`. */
export async function saveSnapshot(path: string, root: string, saved: SavedSnapshot) {
  const { snapshot, outboxN } = saved;
  const body: SnapshotFile = {
    version: 1,
    root,
    outboxN,
    entries: [...snapshot].map(([p, s]) => [p, s.size, s.mtime, s.ino, s.dir ? 1 : 0]),
  };
  await writeFileAtomic(path, JSON.stringify(body));
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
    const snapshot: Snapshot = new Map(
      body.entries.map(([p, size, mtime, ino, dir]) => [p, { size, mtime, ino, dir: dir === 1 }]),
    );
    return { snapshot, outboxN: Number(body.outboxN) || 0 };
  } catch {
    return undefined;
  }
}
