/**
 * Joining byte chunks (JSR's `@std/bytes` is out of reach here); the rotating file joins a group
 * of lines into one write with it.
 * @module
 */

/**
 * `chunks` as one array: the chunk itself when there is only one, else a copy of all of them in
 * order. `total`, their combined length, may be given when the caller counted it already.
 */
export function concatBytes(
  chunks: readonly Uint8Array[],
  total = chunks.reduce((n, c) => n + c.length, 0),
): Uint8Array {
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
