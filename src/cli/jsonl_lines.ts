/**
 * The lines of a JSON-lines input (`jetport publish --file`), streamed: read into large buffers,
 * each read's whole lines decoded in one call, every line handed on as its number, its text and a
 * view of its bytes; no object or array per line, no copy of a line's bytes (a bare payload is
 * sent as that view). At 100k lines the per-line objects, a `TextDecoder` call per line and a read
 * per 64 KiB of a `ReadableStream` were a tenth of the command's time in a fresh process, whose
 * JIT is still cold.
 * @module
 */

/** Where lines come from: `Deno.FsFile`, `Deno.stdin`, or anything that reads like them. */
export interface ByteSource {
  /** Reads into `p`; resolves with the number of bytes read, or null at the end. */
  read(p: Uint8Array): Promise<number | null>;
}

/**
 * Told one non-blank line: its 1-based number, its text (without the line break; empty when
 * `error` is set) and its UTF-8 bytes (a view into the read buffer, never overwritten). Returns a
 * promise only when the reader must wait before the next line (backpressure).
 */
export type OnLine = (
  n: number,
  text: string,
  bytes: Uint8Array,
  error: string | undefined,
) => void | Promise<void>;

/** Bytes read at a time; lines are views into these buffers, so a buffer is filled, not reused. */
export const READ_BYTES = 256 * 1024;
/** A buffer with less room than this left is given up for a new one (the carry is copied). */
const MIN_ROOM = 16 * 1024;
const NL = 0x0a;
const CR = 0x0d;
const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Calls `onLine` for every non-blank line of `source`, in order, awaiting it only when it returns
 * a promise. Blank lines count in the numbering; a trailing `\r` is dropped; the last line may
 * lack its `\n`; a line that is not UTF-8 is handed on with `error` set.
 */
export async function eachLine(
  source: ByteSource,
  onLine: OnLine,
  readBytes = READ_BYTES,
): Promise<void> {
  let buf = new Uint8Array(readBytes);
  // buf[start, end) holds bytes read but not yet handed on (the start of an unfinished line).
  let start = 0;
  let end = 0;
  let n = 0;
  for (;;) {
    if (buf.length - end < MIN_ROOM) {
      const next = new Uint8Array(Math.max(readBytes, 2 * (end - start)));
      next.set(buf.subarray(start, end));
      end -= start;
      start = 0;
      buf = next;
    }
    const got = await source.read(buf.subarray(end));
    if (got === null) break;
    const searchFrom = end;
    end += got;
    // (A negative start would search the whole buffer: `end` is 0 only after a read of nothing.)
    const last = end > 0 ? buf.lastIndexOf(NL, end - 1) : -1;
    if (last < searchFrom) continue; // no line ends in what was read
    n = await splitLines(buf.subarray(start, last + 1), n, onLine);
    start = last + 1;
  }
  if (end > start) await splitLines(buf.subarray(start, end), n, onLine);
}

/**
 * Hands on the non-blank lines of `region` (whole lines; the last may lack its `\n`), numbered
 * after `n`; resolves with the number of the last line. The region is decoded once; when it is
 * ASCII, byte offsets are character offsets and a line's text is a slice of it.
 */
async function splitLines(region: Uint8Array, n: number, onLine: OnLine): Promise<number> {
  let ascii: string | undefined;
  try {
    const text = utf8.decode(region);
    if (text.length === region.length) ascii = text;
  } catch { /* not UTF-8 somewhere: decoded line by line below, to name the line */ }
  let start = 0;
  while (start < region.length) {
    let end = ascii !== undefined ? ascii.indexOf("\n", start) : region.indexOf(NL, start);
    const next = end < 0 ? region.length : end + 1;
    if (end < 0) end = region.length;
    if (end > start && region[end - 1] === CR) end--;
    n++;
    const first = region[start];
    // Most lines start with a printable ASCII byte: not blank, and no trim needed to know it.
    const surelyText = end > start && first > 0x20 && first < 0x80;
    if (ascii !== undefined) {
      if (surelyText || ascii.slice(start, end).trim() !== "") {
        const wait = onLine(n, ascii.slice(start, end), region.subarray(start, end), undefined);
        if (wait) await wait;
      }
    } else if (end > start) {
      const bytes = region.subarray(start, end);
      let text = "";
      let error: string | undefined;
      try {
        text = utf8.decode(bytes);
      } catch {
        error = "not UTF-8 text";
      }
      if (error || surelyText || text.trim() !== "") {
        const wait = onLine(n, text, bytes, error);
        if (wait) await wait;
      }
    }
    start = next;
  }
  return n;
}
