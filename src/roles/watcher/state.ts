/**
 * What the watcher knows of one path (size, mtime, inode, is-dir) and how it is read from disk.
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
