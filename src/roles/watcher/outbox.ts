/**
 * The on-disk outbox: events are appended (JSON lines, fsync'd in batches) before they are
 * published and stay until their PubAck arrives, so a NATS outage or a crash loses nothing.
 *
 * Memory stays bounded however many events wait: only a window of at most `window` records
 * (those next in line and those in flight) is held; the rest is read back from the segment files
 * as the window drains. Appends wait ({@link Outbox.room}) while more than one write batch is
 * queued for the disk.
 *
 * Segments roll at `segmentBytes`; `cursor` (written atomically) holds the number of the last
 * record below which everything is acknowledged. A segment is deleted once every record in it is
 * acknowledged AND covered by every watch's saved snapshot ({@link Outbox.retain}); when that
 * holds for everything written, the last segment goes too, so an idle outbox is empty on disk.
 * A torn last line (crash mid-write) is cut off at open: that record was never durable, so it was
 * never published and no snapshot includes its change.
 * @module
 */
import type { FileState } from "./state.ts";
import { writeFileAtomic } from "./atomic.ts";
import { paths } from "../../platform/paths.ts";

/** One event waiting to be published. */
export interface OutboxRecord {
  /** Position in the outbox, 1, 2, ... */
  n: number;
  /** Subject to publish to. */
  subject: string;
  /** `Nats-Msg-Id`. */
  msgId: string;
  /** The payload (JSON text). */
  data: string;
  /** Extra headers. */
  headers?: Record<string, string>;
  /** Metric labels of the record (not published). */
  labels?: Record<string, string>;
  /** The snapshot change the event stands for (not published): replayed onto an older snapshot. */
  change?: { watch: string; type: string; path: string; oldPath?: string; state: FileState };
}

/** The durable queue. */
export interface Outbox {
  /** Resolves when the write queue has room; await it before {@link Outbox.append} in loops. */
  room(): Promise<void>;
  /** Appends a record; it becomes available to {@link Outbox.next} once it is on disk. */
  append(record: Omit<OutboxRecord, "n">): void;
  /** Resolves once everything appended so far is on disk. */
  flushed(): Promise<void>;
  /** Resolves with the next durable record to send, or undefined once closed. */
  next(): Promise<OutboxRecord | undefined>;
  /** Marks record `n` as published (acknowledged by the stream). */
  ack(n: number): void;
  /** Sends again from the oldest unacknowledged record (after a failed publish). */
  rewind(): void;
  /** Records not yet acknowledged. */
  readonly depth: number;
  /** Records held in memory (at most the window, plus the write queue). */
  readonly resident: number;
  /** The number of the last record appended. */
  lastN(): number;
  /** Calls `fn` with every record on disk numbered above `n`, acknowledged or not, in order. */
  replay(n: number, fn: (record: OutboxRecord) => void): void;
  /** Keeps records above `n` on disk even once acknowledged (a snapshot does not cover them). */
  retain(n: number): void;
  /** Writes what is queued and the cursor, and releases waiters. */
  close(): Promise<void>;
}

/** Tuning of {@link openOutbox}. */
export interface OutboxOptions {
  /** Most records held in memory for sending. Default 2048 (the publisher keeps 1024 in flight). */
  window?: number;
  /** Size at which a new segment file is started. Default 4 MiB. */
  segmentBytes?: number;
  /** Most records written (and fsync'd) in one batch. Default 512. */
  batch?: number;
}

interface Segment {
  path: string;
  firstN: number;
  /** Last durable record in it (firstN - 1 while empty). */
  lastN: number;
}

/** Where the next record to load into memory starts on disk. */
interface ReadPos {
  segment: Segment;
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
function readLines(
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
      let start = 0;
      for (let nl = data.indexOf(10); nl !== -1; nl = data.indexOf(10, start)) {
        const line = decoder.decode(data.subarray(start, nl));
        start = nl + 1;
        if (!fn(line, pos + start)) return;
      }
      carry = data.slice(start);
      pos += start;
    }
  } finally {
    file.close();
  }
}

function parseRecord(line: string): OutboxRecord | undefined {
  try {
    const rec = JSON.parse(line);
    return typeof rec?.n === "number" ? rec : undefined;
  } catch {
    return undefined;
  }
}

/** Opens (or creates) the outbox in `dir`; what was not acknowledged is sent first. */
export async function openOutbox(dir: string, options: OutboxOptions = {}): Promise<Outbox> {
  const windowSize = Math.max(2, options.window ?? 2048);
  const segmentBytes = options.segmentBytes ?? 4 * 1024 * 1024;
  const batchSize = Math.max(1, options.batch ?? 512);
  await Deno.mkdir(dir, { recursive: true });
  const cursorPath = paths.join(dir, "cursor");
  let cursor = 0;
  try {
    cursor = Number((await Deno.readTextFile(cursorPath)).trim()) || 0;
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
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
  const lastOnDisk = segments.length ? segments[segments.length - 1].lastN : 0;

  let nextN = Math.max(cursor, lastOnDisk) + 1;
  let durableN = nextN - 1;
  // Acknowledged records above the cursor (PubAcks arrive out of order).
  const acked = new Set<number>();
  // The window: records in (cursor, memTop] not yet acknowledged.
  const mem = new Map<number, OutboxRecord>();
  let memTop = cursor;
  // Position on disk of record memTop + 1 (meaningful while that record is durable).
  let readPos: ReadPos | undefined;
  let sendN = cursor + 1;
  let retainN = 0;
  let queue: OutboxRecord[] = [];
  let writing: Promise<void> | undefined;
  let current: { file: Deno.FsFile; segment: Segment; bytes: number } | undefined;
  let closed = false;
  let wake: (() => void) | undefined;
  let roomWaiters: Array<() => void> = [];
  let cursorDirty = false;
  let cursorTimer: ReturnType<typeof setTimeout> | undefined;

  // Find where record cursor + 1 starts: the rest is read back as the window drains.
  const startSeg = segments.findLast((s) => s.firstN <= cursor + 1) ?? segments[0];
  if (startSeg && cursor < lastOnDisk) {
    readPos = { segment: startSeg, offset: 0 };
    readLines(startSeg.path, 0, (line, end) => {
      const rec = parseRecord(line);
      if (!rec || rec.n > cursor) return false;
      readPos!.offset = end;
      return true;
    });
  }

  function wakeSender() {
    const w = wake;
    wake = undefined;
    w?.();
  }

  /** Loads durable records from disk into the window until it is full. */
  function refill() {
    while (readPos && memTop < durableN && memTop - cursor < windowSize) {
      const pos: ReadPos = readPos;
      let progressed = false;
      readLines(pos.segment.path, pos.offset, (line, end) => {
        const rec = parseRecord(line);
        if (!rec || rec.n > durableN) return false;
        pos.offset = end;
        progressed = true;
        if (rec.n <= memTop) return true;
        memTop = rec.n;
        if (rec.n > cursor && !acked.has(rec.n)) mem.set(rec.n, rec);
        return memTop - cursor < windowSize;
      });
      if (memTop >= pos.segment.lastN) {
        // This segment is read to its end: go on with the next one.
        const next = segments[segments.indexOf(pos.segment) + 1];
        if (!next) break;
        readPos = { segment: next, offset: 0 };
      } else if (!progressed) break;
    }
  }

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

  async function writeBatches() {
    while (queue.length > 0) {
      const batch = queue.slice(0, batchSize);
      queue = queue.slice(batch.length);
      releaseRoom();
      if (!current || current.bytes > segmentBytes) {
        current?.file.close();
        await openSegment(batch[0].n);
      }
      const cur = current!;
      const lines = batch.map((r) => encoder.encode(JSON.stringify(r) + "\n"));
      const data = new Uint8Array(lines.reduce((sum, l) => sum + l.length, 0));
      let offset = 0;
      for (let i = 0; i < batch.length; i++) {
        // The first record not in memory: the window reads it back from here.
        if (batch[i].n === memTop + 1) {
          readPos = { segment: cur.segment, offset: cur.bytes + offset };
        }
        data.set(lines[i], offset);
        offset += lines[i].length;
      }
      let written = 0;
      while (written < data.length) written += await cur.file.write(data.subarray(written));
      await cur.file.syncData();
      cur.bytes += data.length;
      durableN = batch[batch.length - 1].n;
      cur.segment.lastN = durableN;
      wakeSender();
    }
  }

  function releaseRoom() {
    if (queue.length >= batchSize && !closed) return;
    const waiters = roomWaiters;
    roomWaiters = [];
    waiters.forEach((r) => r());
  }

  function kick(): Promise<void> {
    if (!writing) {
      writing = writeBatches().finally(() => {
        writing = undefined;
        if (queue.length > 0) kick();
      });
    }
    return writing;
  }

  async function flushed() {
    while (queue.length > 0 || writing) await kick();
  }

  async function saveCursor() {
    cursorDirty = false;
    await writeFileAtomic(cursorPath, `${cursor}\n`);
    const done = Math.min(cursor, retainN);
    // Segments whose records are all acknowledged and in every snapshot are no longer needed.
    while (segments.length > 1 && segments[0].lastN <= done) {
      const seg = segments.shift()!;
      await Deno.remove(seg.path).catch(() => {});
    }
    // Everything written is done with: drop the last segment too (the next write starts anew).
    const last = segments[0];
    if (last && last.lastN <= done && last.lastN === nextN - 1 && !writing && !queue.length) {
      if (current?.segment === last) {
        current.file.close();
        current = undefined;
      }
      segments.shift();
      if (readPos?.segment === last) readPos = undefined;
      // Synchronously: a write starting meanwhile could reopen a file of the same name.
      try {
        Deno.removeSync(last.path);
      } catch { /* gone already */ }
    }
  }

  function scheduleCursor() {
    cursorDirty = true;
    if (cursorTimer === undefined) {
      cursorTimer = setTimeout(() => {
        cursorTimer = undefined;
        if (cursorDirty) saveCursor().catch(() => {});
      }, 500);
    }
  }

  return {
    room() {
      if (queue.length < batchSize || closed) return Promise.resolve();
      return new Promise((r) => roomWaiters.push(r));
    },
    append(record) {
      const rec = { n: nextN++, ...record };
      // The window takes it directly when everything before it is in memory and there is room.
      if (memTop === rec.n - 1 && memTop - cursor < windowSize) {
        mem.set(rec.n, rec);
        memTop = rec.n;
      }
      queue.push(rec);
      kick();
    },
    flushed,
    async next() {
      while (!closed) {
        if (sendN <= cursor) sendN = cursor + 1;
        while (sendN <= memTop && acked.has(sendN)) sendN++;
        if (sendN > memTop) refill();
        if (sendN <= memTop && sendN <= durableN) return mem.get(sendN++)!;
        await new Promise<void>((r) => (wake = r));
      }
      return undefined;
    },
    ack(n) {
      if (n <= cursor || acked.has(n)) return;
      acked.add(n);
      mem.delete(n);
      const before = cursor;
      while (acked.delete(cursor + 1)) cursor++;
      if (cursor !== before) {
        scheduleCursor();
        wakeSender(); // the window has room again
      }
    },
    rewind() {
      sendN = cursor + 1;
    },
    get depth() {
      return nextN - 1 - cursor - acked.size;
    },
    get resident() {
      return mem.size + queue.length;
    },
    lastN: () => nextN - 1,
    replay(n, fn) {
      for (const seg of [...segments]) {
        if (seg.lastN <= n) continue;
        readLines(seg.path, 0, (line) => {
          const rec = parseRecord(line);
          if (rec && rec.n > n && rec.n <= durableN) fn(rec);
          return true;
        });
      }
    },
    retain(n) {
      retainN = n;
      scheduleCursor();
    },
    async close() {
      closed = true;
      wakeSender();
      releaseRoom();
      await flushed();
      clearTimeout(cursorTimer);
      cursorTimer = undefined;
      await saveCursor();
      current?.file.close();
      current = undefined;
    },
  };
}
