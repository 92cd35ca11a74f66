/**
 * Walks a tree with `lstat` (symlinks are recorded, never followed, so a scan cannot leave the
 * root), skipping what the filter excludes, one directory at a time: the caller sees each
 * directory's entries and can act on them before the next, so a scan of 100k files never holds
 * 100k states. It yields to the event loop every few hundred entries so acks and watch events
 * keep flowing during a scan of a large tree.
 * @module
 */
import type { PathFilter } from "./filter.ts";
import { type FileState, lstatState } from "./state.ts";

const YIELD_EVERY = 500;

/** Joins a root and a relative path. */
export function absPath(root: string, rel: string): string {
  return rel === "" ? root : `${root}/${rel}`;
}

/**
 * Walks the directory `rel` (relative to `root`, "" for the root) and, when `recursive`,
 * everything below it. For each directory listed, `onDir(dir, found)` gets path → state of its
 * subdirectories and of the files the filter accepts; a directory that vanished before it could
 * be listed is reported empty. A directory or file that cannot be read (permissions) goes to
 * `onUnreadable` and is skipped (an entry whose `lstat` failed is reported with the state that
 * `onUnreadable` returns, if any): one such entry must not stop the scan of everything else.
 */
export async function walkTree(
  root: string,
  rel: string,
  filter: PathFilter,
  recursive: boolean,
  onDir: (dir: string, found: Map<string, FileState>) => void | Promise<void>,
  onUnreadable: (path: string, error: Error) => FileState | undefined,
): Promise<void> {
  const stack = [rel];
  let count = 0;
  while (stack.length > 0) {
    const dir = stack.pop()!;
    const found = new Map<string, FileState>();
    let entries: Deno.DirEntry[] = [];
    try {
      entries = [...Deno.readDirSync(absPath(root, dir))];
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound || err instanceof Deno.errors.NotADirectory)) {
        onUnreadable(dir, err as Error);
        continue;
      }
    }
    for (const entry of entries) {
      const path = dir === "" ? entry.name : `${dir}/${entry.name}`;
      if (entry.isDirectory ? filter.dir(path) : filter.file(path)) {
        let state: FileState | null = null;
        try {
          state = lstatState(absPath(root, path));
        } catch (err) {
          state = onUnreadable(path, err as Error) ?? null;
        }
        if (state) {
          found.set(path, state);
          if (state.dir && recursive) stack.push(path);
        }
      }
      if (++count % YIELD_EVERY === 0) await new Promise((r) => setTimeout(r, 0));
    }
    await onDir(dir, found);
  }
}
