/**
 * Walks a tree with `lstat` (symlinks are recorded, never followed, so a scan cannot leave the
 * root), skipping what the filter excludes, one directory at a time and, within a directory,
 * a slice of entries at a time: the caller acts on each slice before the next is read, so a scan
 * of a directory of 100k files never holds 100k states. It yields to the event loop between
 * slices so acks and watch events keep flowing during a scan of a large tree.
 * @module
 */
import type { PathFilter } from "./filter.ts";
import { type FileState, lstatState } from "./state.ts";
import { keyBase, keyJoin, paths as osPaths } from "../../platform/paths.ts";
import { yieldToEventLoop } from "../../platform/delay.ts";

/** Entries `lstat`ed per slice. */
const SLICE = 256;

/**
 * True when the entry at `key` was listed but cannot be opened by its name: Deno reads a name that
 * is not valid UTF-8 with U+FFFD in place of the bad bytes, and no file has that name.
 */
export function unaddressable(root: string, key: string): boolean {
  return keyBase(key).includes("\uFFFD") && lstatState(osPaths.fromKey(root, key)) === null;
}

/** What {@link walkTree} reports to. */
export interface TreeVisitor {
  /**
   * Directory `dir` was listed: `paths` holds its entries the filter accepts (subdirectories and
   * files), each once. A directory that vanished before it could be listed is reported empty.
   */
  listed(dir: string, paths: readonly string[]): void | Promise<void>;
  /** States of a slice of the entries last listed; null for one that vanished since. */
  states(slice: Map<string, FileState | null>): void | Promise<void>;
  /**
   * A directory that cannot be listed or an entry that cannot be `lstat`ed (permissions): it is
   * skipped, or, for an entry, reported with the state returned here, if any. One such path must
   * not stop the scan of everything else.
   */
  unreadable(path: string, error: Error): FileState | undefined;
}

/** Walks directory `rel` (relative to `root`, "" for the root) and, when `recursive`, below. */
export async function walkTree(
  root: string,
  rel: string,
  filter: PathFilter,
  recursive: boolean,
  visit: TreeVisitor,
): Promise<void> {
  const stack = [rel];
  while (stack.length > 0) {
    const dir = stack.pop()!;
    // An array, not a set: a listing holds each name once, and hashing 100k names into a set
    // cost a third of listing them.
    const list: string[] = [];
    try {
      for (const entry of Deno.readDirSync(osPaths.fromKey(root, dir))) {
        const path = keyJoin(dir, entry.name);
        if (entry.isDirectory ? filter.dir(path) : filter.file(path)) list.push(path);
      }
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound || err instanceof Deno.errors.NotADirectory)) {
        visit.unreadable(dir, err as Error);
        continue;
      }
    }
    await visit.listed(dir, list);
    let slice = new Map<string, FileState | null>();
    for (const path of list) {
      let state: FileState | null;
      try {
        state = lstatState(osPaths.fromKey(root, path));
        if (state === null && unaddressable(root, path)) {
          throw new Error("its name is not valid UTF-8, which Deno cannot open: rename it");
        }
      } catch (err) {
        state = visit.unreadable(path, err as Error) ?? null;
      }
      slice.set(path, state);
      if (state?.dir && recursive) stack.push(path);
      if (slice.size === SLICE) {
        await visit.states(slice);
        slice = new Map();
        await yieldToEventLoop();
      }
    }
    if (slice.size > 0) await visit.states(slice);
  }
}
