/**
 * The `lstat`s of many paths packed in one `Float64Array`, four numbers a path, as the watcher's
 * stat thread (`stat_worker.ts`) sends them: one transferred buffer crosses between threads for
 * nothing, where 256 state objects would be copied one by one.
 * @module
 */
import { type FileState, lstatState } from "./state.ts";

/** Numbers per path. */
const FIELDS = 4;
const KIND_NONE = 0;
const KIND_FILE = 1;
const KIND_DIR = 2;
/** `lstat` failed for another reason than "nothing there": the reader stats it again itself. */
const KIND_ERROR = 3;

/** `[kind, size, mtime, ino]` of each path, one after the other. */
export function packStates(paths: readonly string[]): Float64Array<ArrayBuffer> {
  const out = new Float64Array(paths.length * FIELDS);
  for (let i = 0; i < paths.length; i++) {
    const at = i * FIELDS;
    try {
      const state = lstatState(paths[i]);
      if (state === null) continue; // KIND_NONE: the array starts zeroed
      out[at] = state.dir ? KIND_DIR : KIND_FILE;
      out[at + 1] = state.size;
      out[at + 2] = state.mtime;
      out[at + 3] = state.ino;
    } catch {
      out[at] = KIND_ERROR;
    }
  }
  return out;
}

/**
 * The state of path `i` in `packed`: its {@link FileState}, null when nothing is there, or
 * undefined when it could not be read (the caller reads it itself, for the error).
 */
export function unpackState(packed: Float64Array, i: number): FileState | null | undefined {
  const at = i * FIELDS;
  switch (packed[at]) {
    case KIND_NONE:
      return null;
    case KIND_FILE:
    case KIND_DIR:
      return {
        size: packed[at + 1],
        mtime: packed[at + 2],
        ino: packed[at + 3],
        dir: packed[at] === KIND_DIR,
      };
    default:
      return undefined;
  }
}
