/**
 * The outbox's files: the segment files (one record a line, `outbox_record.ts`, named after their
 * first record) and the `cursor` file, recovered at open, written in fsync'd batches, read back
 * line by line, and deleted once no longer needed. The window, the acknowledgements and the write
 * queue are `outbox.ts`'s.
 * @module
 */
import { formatRecord, type OutboxRecord, parseRecord } from "./outbox_record.ts";
import { paths } from "../../platform/paths.ts";

/** One segment file. */
export interface Segment {
  /** Its path. */
  path: string;
  /** The number of its first record. */
  firstN: number;
  /** Last durable record in it (firstN - 1 while empty). */
  lastN: number;
}

/** Where the next record to load into memory starts on disk. */
export interface ReadPos {
  /** The segment it is in. */
  segment: Segment;
  /** Its byte offset in the segment. */
  offset: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const SEGMENT_NAME = /^seg-(\d+)\.jsonl$/;
const READ_CHUNK = 256 * 1024;

/**
 * Calls `fn(line, end)` for each complete line of `path` from byte `offset` (`end`: the byte
 * offset after the line's newline) until `fn` returns false. An unterminated tail is not a line.
 */
export function readLines(
  path: string,
  offset: number,
  fn: (line: string, end: number) => boolean,
): void {
  const file = Deno.openSync(path, { read: true });
  try {
    file.seekSync(offset, Deno.SeekMode.Start);
    const chunk = new Uint8Array(READ_CHUNK);
    let carry = new Uint8Array(0);
    let pos = offset; // file offset of carry[0]
    while (true) {
      const got = file.readSync(chunk);
      if (got === null || got === 0) return;
      const data = new Uint8Array(carry.length + got);
      data.set(carry);
      data.set(chunk.subarray(0, got), carry.length);
      // One decode for the chunk's complete lines (one per line cost as much as the parse).
      const last = data.lastIndexOf(10);
      const lines = last === -1 ? [] : decoder.decode(data.subarray(0, last)).split("\n");
      let start = 0;
      for (const line of lines) {
        start = data.indexOf(10, start) + 1;
        if (!fn(line, pos + start)) return;
      }
      carry = data.slice(start);
      pos += start;
    }
  } finally {
    file.close();
  }
}

/** Reads the cursor file (0 when there is none). */
export async function readCursor(cursorPath: string): Promise<number> {
  try {
    return Number((await Deno.readTextFile(cursorPath)).trim()) || 0;
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
    return 0;
  }
}

/** The segment files in `dir`, oldest first, with a torn last line cut off. */
export async function recoverSegments(dir: string): Promise<Segment[]> {
  const segments: Segment[] = [...Deno.readDirSync(dir)]
    .map((e) => SEGMENT_NAME.exec(e.name))
    .filter((m) => m !== null)
    .map((m) => ({ path: paths.join(dir, m[0]), firstN: Number(m[1]), lastN: 0 }))
    .sort((a, b) => a.firstN - b.firstN);
  // Only the last segment can end in a torn write: cut it off, so appends start on a clean line.
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i];
    if (i < segments.length - 1) {
      seg.lastN = segments[i + 1].firstN - 1;
      continue;
    }
    let good = 0;
    seg.lastN = seg.firstN - 1;
    readLines(seg.path, 0, (line, end) => {
      const rec = parseRecord(line);
      if (!rec) return false;
      seg.lastN = rec.n;
      good = end;
      return true;
    });
    await Deno.truncate(seg.path, good);
  }
  const tail = segments[segments.length - 1];
  if (tail && tail.lastN < tail.firstN) {
    // Nothing durable in it: remove it, so the next segment may take its name afresh.
    segments.pop();
    await Deno.remove(tail.path);
  }
  return segments;
}

/** Where record `cursor + 1` starts on disk, or undefined when it is not on disk. */
export function findReadPos(
  segments: Segment[],
  cursor: number,
  lastOnDisk: number,
): ReadPos | undefined {
  const startSeg = segments.findLast((s) => s.firstN <= cursor + 1) ?? segments[0];
  if (!startSeg || cursor >= lastOnDisk) return undefined;
  const readPos = { segment: startSeg, offset: 0 };
  readLines(startSeg.path, 0, (line, end) => {
    const rec = parseRecord(line);
    if (!rec || rec.n > cursor) return false;
    readPos.offset = end;
    return true;
  });
  return readPos;
}

/** Calls `fn` with every record in `segments` numbered in `(n, durableN]`, in order. */
export function replaySegments(
  segments: readonly Segment[],
  n: number,
  durableN: number,
  fn: (record: OutboxRecord) => void,
): void {
  for (const seg of [...segments]) {
    if (seg.lastN <= n) continue;
    readLines(seg.path, 0, (line) => {
      const rec = parseRecord(line);
      if (rec && rec.n > n && rec.n <= durableN) fn(rec);
      return true;
    });
  }
}

/** Appends batches of records to the newest segment, rolling to a new one at `segmentBytes`. */
export interface SegmentWriter {
  /**
   * Writes `batch` and fsyncs it; returns the segment it went to (the caller sets its `lastN`).
   * `at(n, segment, offset)` is called, before the write, with where each record will start.
   */
  write(
    batch: readonly OutboxRecord[],
    at: (n: number, segment: Segment, offset: number) => void,
  ): Promise<Segment>;
  /** Closes the open file when it is `segment`'s (or any, without `segment`). */
  closeFile(segment?: Segment): void;
}

/** Creates the writer of the segments in `dir`; a new segment is added to `segments`. */
export function createSegmentWriter(
  dir: string,
  segments: Segment[],
  segmentBytes: number,
): SegmentWriter {
  let current: { file: Deno.FsFile; segment: Segment; bytes: number } | undefined;

  async function openSegment(firstN: number) {
    const segment: Segment = {
      path: paths.join(dir, `seg-${String(firstN).padStart(12, "0")}.jsonl`),
      firstN,
      lastN: firstN - 1,
    };
    const file = await Deno.open(segment.path, { append: true, create: true });
    current = { file, segment, bytes: 0 };
    segments.push(segment);
  }

  return {
    async write(batch, at) {
      if (!current || current.bytes > segmentBytes) {
        current?.file.close();
        await openSegment(batch[0].n);
      }
      const cur = current!;
      // One encode for the batch (one per line cost more than the JSON): a record's line holds no
      // raw newline, so the i-th newline of the bytes ends the i-th record.
      let text = "";
      for (const r of batch) text += formatRecord(r) + "\n";
      const data = encoder.encode(text);
      for (let i = 0, offset = 0; i < batch.length; i++) {
        at(batch[i].n, cur.segment, cur.bytes + offset);
        offset = data.indexOf(10, offset) + 1;
      }
      let written = 0;
      while (written < data.length) written += await cur.file.write(data.subarray(written));
      await cur.file.syncData();
      cur.bytes += data.length;
      return cur.segment;
    },
    closeFile(segment) {
      if (segment !== undefined && current?.segment !== segment) return;
      current?.file.close();
      current = undefined;
    },
  };
}

/**
 * Deletes the segments whose records are all `<= done` (acknowledged and in every snapshot), but
 * the newest one; that one goes too when `allDone(it)` (everything written is done with), after
 * `dropping(it)` was told, synchronously.
 */
export async function compactSegments(
  segments: Segment[],
  done: number,
  allDone: (last: Segment) => boolean,
  dropping: (last: Segment) => void,
): Promise<void> {
  // Segments whose records are all acknowledged and in every snapshot are no longer needed.
  while (segments.length > 1 && segments[0].lastN <= done) {
    const seg = segments.shift()!;
    await Deno.remove(seg.path).catch(() => {});
  }
  // Everything written is done with: drop the last segment too (the next write starts anew).
  const last = segments[0];
  if (last && last.lastN <= done && allDone(last)) {
    dropping(last);
    segments.shift();
    // Synchronously: a write starting meanwhile could reopen a file of the same name.
    try {
      Deno.removeSync(last.path);
    } catch { /* gone already */ }
  }
}
