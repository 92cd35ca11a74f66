/**
 * Walks a tree with `lstat` (symlinks are recorded, never followed, so a scan cannot leave the
 * root), skipping what the filter excludes. It yields to the event loop every few hundred entries
 * so acks and watch events keep flowing during a scan of a large tree.
 * @module
 */
import type { PathFilter } from "./filter.ts";
import { type FileState, lstatState, toFileState } from "./snapshot.ts";

const YIELD_EVERY = 500;

/** Joins a root and a relative path. */
export function absPath(root: string, rel: string): string {
  return rel === "" ? root : `${root}/${rel}`;
}

/**
 * Scans the directory `rel` (relative to `root`, "" for the root) and everything below it.
 * Returns path → state for directories and for the files the filter accepts; `rel` itself is not
 * included. A directory that vanishes during the scan is skipped.
 */
export async function scanTree(
  root: string,
  rel: string,
  filter: PathFilter,
  recursive: boolean,
): Promise<Map<string, FileState>> {
  const found = new Map<string, FileState>();
  const stack = [rel];
  let count = 0;
  while (stack.length > 0) {
    const dir = stack.pop()!;
    let entries: Deno.DirEntry[];
    try {
      entries = [...Deno.readDirSync(absPath(root, dir))];
    } catch (err) {
      if (err instanceof Deno.errors.NotFound || err instanceof Deno.errors.NotADirectory) continue;
      throw err;
    }
    for (const entry of entries) {
      const path = dir === "" ? entry.name : `${dir}/${entry.name}`;
      if (entry.isDirectory) {
        if (!filter.dir(path)) continue;
        const state = lstatState(absPath(root, path));
        if (!state) continue;
        found.set(path, state);
        if (recursive) stack.push(path);
      } else if (filter.file(path)) {
        try {
          found.set(path, toFileState(Deno.lstatSync(absPath(root, path))));
        } catch (err) {
          if (!(err instanceof Deno.errors.NotFound)) throw err;
        }
      }
      if (++count % YIELD_EVERY === 0) await new Promise((r) => setTimeout(r, 0));
    }
  }
  return found;
}
