/**
 * Atomic file replacement for the watcher's state (snapshots, the outbox cursor): a reader (or a
 * restart after a crash) sees the old content or the new one, never a mix.
 * @module
 */

const encoder = new TextEncoder();
/** Numbers this process's temp files: two writes of one path at once must not share one. */
let tempSeq = 0;

/**
 * Writes `text` (a string, or chunks of one written in turn, so a large file need not be one
 * string) to `path` atomically: temp file, fsync, rename.
 */
export async function writeFileAtomic(path: string, text: string | Iterable<string>) {
  const tmp = `${path}.tmp-${Deno.pid}-${++tempSeq}`;
  const file = await Deno.open(tmp, { write: true, create: true, truncate: true });
  try {
    for (const chunk of typeof text === "string" ? [text] : text) {
      const data = encoder.encode(chunk);
      let written = 0;
      while (written < data.length) written += await file.write(data.subarray(written));
    }
    await file.syncData();
  } finally {
    file.close();
  }
  await Deno.rename(tmp, path);
}
