/**
 * Where the monitor's log ends, and its start-up repair after a kill -9: lines written after the
 * last batch the written-sequence journal committed (see `written.ts`) belong to events that were
 * never acked and will come again, so they are cut off here, and written once when they do. The
 * uncommitted batch may have rotated the log (once or more: `path` → `path.1` → ...); the committed
 * file is then found by its inode among the rotated ones, the files newer than it (holding only
 * uncommitted lines) are removed, and it and the older ones move back to their places.
 * @module
 */
import type { LogEnd } from "./written.ts";

/** Where the live log file ends now (a synchronous stat: cheaper than a trip to the I/O pool). */
export function logEnd(path: string): LogEnd {
  const info = Deno.statSync(path);
  return { ino: info.ino ?? 0, size: info.size };
}

/** What {@link cutUncommittedTail} found. */
export type TailRepair =
  /** The log ends where the journal says: nothing to do. */
  | { kind: "clean" }
  /**
   * `bytes` uncommitted bytes were cut from the end of the log (`files` whole files among them).
   */
  | { kind: "cut"; bytes: number; files: number }
  /** The log is not the file the journal knows (moved, truncated or replaced by someone else). */
  | { kind: "unknown"; why: string };

async function statOrUndefined(path: string): Promise<Deno.FileInfo | undefined> {
  try {
    return await Deno.stat(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw err;
  }
}

/** `path` for index 0, `path.i` after. */
const nth = (path: string, i: number) => (i === 0 ? path : `${path}.${i}`);

/**
 * Cuts the log at `path` (with up to `keep` rotated files) back to `committed`, where the journal
 * recorded its end last. A file the journal cannot place is left alone (the caller warns).
 */
export async function cutUncommittedTail(
  path: string,
  keep: number,
  committed: LogEnd,
): Promise<TailRepair> {
  let k = -1;
  let bytes = 0;
  for (let i = 0; i <= keep && k < 0; i++) {
    const info = await statOrUndefined(nth(path, i));
    if (info?.ino === committed.ino) k = i;
    else bytes += info?.size ?? 0;
  }
  if (k < 0) {
    return bytes === 0
      ? { kind: "clean" } // no log yet
      : { kind: "unknown", why: "it is not the file last written (moved or replaced?)" };
  }
  const size = (await Deno.stat(nth(path, k))).size;
  if (size < committed.size) {
    return { kind: "unknown", why: `it is shorter than the ${committed.size} bytes recorded` };
  }
  if (k > 0) {
    for (let i = 0; i < k; i++) await Deno.remove(nth(path, i)).catch(() => {});
    for (let i = 0; await statOrUndefined(nth(path, k + i)); i++) {
      await Deno.rename(nth(path, k + i), nth(path, i));
    }
  }
  bytes += size - committed.size;
  if (bytes === 0) return { kind: "clean" };
  await Deno.truncate(path, committed.size);
  return { kind: "cut", bytes, files: k };
}
