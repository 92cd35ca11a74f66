/**
 * The on-disk outbox: events are appended (a line each, fsync'd in batches) before they are
 * published and stay until their PubAck arrives, so a NATS outage or a crash loses nothing.
 *
 * Memory stays bounded however many events wait: only a window of at most `window` records
 * (those next in line and those in flight) is held; the rest is read back from the segment files
 * as the window drains. Appends wait ({@link Outbox.room}) while more than one write batch is
 * queued for the disk, and while the window is full as long as acknowledgements keep coming: a
 * producer faster than the stream (a scan of 100k new files) then goes at the sender's pace
 * instead of writing records that must be read back and parsed again (a tenth of such a burst's
 * CPU). When acknowledgements stop (NATS down, a stream refusing), appends go on to the disk.
 *
 * Segments roll at `segmentBytes`; `cursor` (written atomically) holds the number of the last
 * record below which everything is acknowledged. A segment is deleted once every record in it is
 * acknowledged AND covered by every watch's saved snapshot ({@link Outbox.retain}); when that
 * holds for everything written, the last segment goes too, so an idle outbox is empty on disk.
 * A torn last line (crash mid-write) is cut off at open: that record was never durable, so it was
 * never published and no snapshot includes its change.
 * @module
 */
import { writeFileAtomic } from "./atomic.ts";
import { createWriteQueue } from "./outbox_queue.ts";
import {
  compactSegments,
  createSegmentWriter,
  findReadPos,
  readCursor,
  readLines,
  type ReadPos,
  recoverSegments,
  replaySegments,
  type Segment,
  type SegmentWriter,
} from "./outbox_segments.ts";
import { type OutboxRecord, parseRecord } from "./outbox_record.ts";
import { paths } from "../../platform/paths.ts";

export type { OutboxRecord } from "./outbox_record.ts";

/** The durable queue. */
export interface Outbox {
  /**
   * Resolves when the write queue has room and, while acknowledgements keep coming, the window
   * too; await it before {@link Outbox.append} in loops.
   */
  room(): Promise<void>;
  /** Whether {@link Outbox.room} would resolve at once (a burst's loop then awaits nothing). */
  hasRoom(): boolean;
  /** Appends a record; it becomes available to {@link Outbox.next} once it is on disk. */
  append(record: Omit<OutboxRecord, "n">): void;
  /** Resolves once everything appended so far is on disk. */
  flushed(): Promise<void>;
  /** Resolves with the next durable record to send, or undefined once closed. */
  next(): Promise<OutboxRecord | undefined>;
  /** The next durable record to send when one is ready now, else undefined (never waits). */
  poll(): OutboxRecord | undefined;
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

/**
 * An append waits for the window only while acknowledgements come at least this often (ms):
 * then the window frees soon.
 */
const FLOWING_MS = 500;

/** Tuning of {@link openOutbox}. */
export interface OutboxOptions {
  /**
   * Most records held in memory for sending. Default 8192: the publisher keeps 1024 in flight, and
   * a scan waiting for the window (see above) must not wait for the disk too (a write batch is
   * sent once fsync'd).
   */
  window?: number;
  /** Size at which a new segment file is started. Default 4 MiB. */
  segmentBytes?: number;
  /** Most records written (and fsync'd) in one batch. Default 512. */
  batch?: number;
}

/** Opens (or creates) the outbox in `dir`; what was not acknowledged is sent first. */
export async function openOutbox(dir: string, options: OutboxOptions = {}): Promise<Outbox> {
  const windowSize = Math.max(2, options.window ?? 8192);
  const segmentBytes = options.segmentBytes ?? 4 * 1024 * 1024;
  const batchSize = Math.max(1, options.batch ?? 512);
  await Deno.mkdir(dir, { recursive: true });
  const cursorPath = paths.join(dir, "cursor");
  const cursor = await readCursor(cursorPath);
  const segments = await recoverSegments(dir);
  const lastOnDisk = segments.length ? segments[segments.length - 1].lastN : 0;
  // Find where record cursor + 1 starts: the rest is read back as the window drains.
  const readPos = findReadPos(segments, cursor, lastOnDisk);
  return createOutbox({
    windowSize,
    batchSize,
    cursorPath,
    segments,
    writer: createSegmentWriter(dir, segments, segmentBytes),
    cursor,
    lastOnDisk,
    readPos,
  });
}

/** An outbox's files as {@link openOutbox} found them. */
interface Opened {
  windowSize: number;
  batchSize: number;
  cursorPath: string;
  /** The segments, oldest first. */
  segments: Segment[];
  writer: SegmentWriter;
  /** The cursor file's number. */
  cursor: number;
  /** The last record on disk. */
  lastOnDisk: number;
  /** Where record cursor + 1 starts on disk. */
  readPos: ReadPos | undefined;
}

/** The outbox on the files `opened` found. */
function createOutbox(opened: Opened): Outbox {
  const { windowSize, batchSize, cursorPath, segments, writer, lastOnDisk } = opened;
  let cursor = opened.cursor;
  let nextN = Math.max(cursor, lastOnDisk) + 1;
  let durableN = nextN - 1;
  // Acknowledged records above the cursor (PubAcks arrive out of order).
  const acked = new Set<number>();
  // The window: records in (cursor, memTop] not yet acknowledged.
  const mem = new Map<number, OutboxRecord>();
  let memTop = cursor;
  // Position on disk of record memTop + 1 (meaningful while that record is durable).
  let readPos = opened.readPos;
  let sendN = cursor + 1;
  let retainN = 0;
  let closed = false;
  let wake: (() => void) | undefined;
  let cursorDirty = false;
  let cursorTimer: ReturnType<typeof setTimeout> | undefined;
  // Producers waiting for the window, the last acknowledgement, and the timer that lets the
  // waiters write to the disk when acknowledgements stop (stalled until the next one).
  const windowWaiters: Array<() => void> = [];
  let lastAck = 0;
  let stalled = false;
  let stallTimer: ReturnType<typeof setTimeout> | undefined;

  const queue = createWriteQueue({
    batchSize,
    writer,
    at(n, segment, offset) {
      // The first record not in memory: the window reads it back from here.
      if (n === memTop + 1) readPos = { segment, offset };
    },
    durable(n, segment) {
      durableN = n;
      segment.lastN = durableN;
      wakeSender();
    },
    isClosed: () => closed,
  });

  /**
   * True while an append should wait for the window: every record is in it (none was written
   * past it), it is full, and acknowledgements have not stopped.
   */
  const mustWait = () =>
    !closed && !stalled && memTop === nextN - 1 && memTop - cursor >= windowSize;

  /** Releases the producers waiting for the window: all when `all`, else once none must. */
  function releaseWindow(all = false) {
    while (windowWaiters.length > 0 && (all || !mustWait())) windowWaiters.shift()!();
    if (windowWaiters.length === 0) {
      clearTimeout(stallTimer);
      stallTimer = undefined;
    }
  }

  /** Resolves once an append need not wait for the window (see {@link mustWait}). */
  function windowRoom(): Promise<void> {
    if (!mustWait()) return Promise.resolve();
    return new Promise<void>((resolve) => {
      windowWaiters.push(resolve);
      // Re-armed while acknowledgements come; once none came for FLOWING_MS, the stream is not
      // keeping up (or not there): the waiters go on to the disk.
      const arm = () => {
        stallTimer = setTimeout(() => {
          stallTimer = undefined;
          if (Date.now() - lastAck < FLOWING_MS) return arm();
          stalled = true;
          releaseWindow(true);
        }, FLOWING_MS);
      };
      if (stallTimer === undefined) arm();
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

  /** The cursor save in progress: saves run one after the other (see {@link saveCursor}). */
  let cursorSaving: Promise<void> = Promise.resolve();

  /**
   * Saves the cursor and compacts, after any save still in progress: the timer's save and the
   * one of `close()` overlapped, and two compactions at once would close and remove the same
   * segments.
   */
  function saveCursor(): Promise<void> {
    const next = cursorSaving.then(saveCursorNow, saveCursorNow);
    cursorSaving = next.catch(() => {});
    return next;
  }

  async function saveCursorNow() {
    cursorDirty = false;
    await writeFileAtomic(cursorPath, `${cursor}\n`);
    await compactSegments(
      segments,
      Math.min(cursor, retainN),
      (last) => last.lastN === nextN - 1 && !queue.busy && !queue.length,
      (last) => {
        writer.closeFile(last);
        if (readPos?.segment === last) readPos = undefined;
      },
    );
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

  function poll(): OutboxRecord | undefined {
    if (closed) return undefined;
    if (sendN <= cursor) sendN = cursor + 1;
    while (sendN <= memTop && acked.has(sendN)) sendN++;
    // Read back only once half the window is free: a refill opens the segment and reads a chunk
    // of it, which per record (an ack frees one slot) cost more than the publish.
    if (sendN > memTop && memTop - cursor <= windowSize / 2) refill();
    if (sendN <= memTop && sendN <= durableN) return mem.get(sendN++)!;
    return undefined;
  }

  return {
    async room() {
      await queue.room();
      await windowRoom();
    },
    hasRoom: () => queue.hasRoom() && !mustWait(),
    append(record) {
      const rec = { n: nextN++, ...record };
      // The window takes it directly when everything before it is in memory and there is room.
      if (memTop === rec.n - 1 && memTop - cursor < windowSize) {
        mem.set(rec.n, rec);
        memTop = rec.n;
      }
      queue.push(rec);
    },
    flushed: () => queue.flushed(),
    async next() {
      while (!closed) {
        const rec = poll();
        if (rec) return rec;
        await new Promise<void>((r) => (wake = r));
      }
      return undefined;
    },
    poll,
    ack(n) {
      if (n <= cursor || acked.has(n)) return;
      lastAck = Date.now();
      stalled = false;
      acked.add(n);
      mem.delete(n);
      const before = cursor;
      while (acked.delete(cursor + 1)) cursor++;
      if (cursor !== before) {
        scheduleCursor();
        wakeSender(); // the window has room again
        releaseWindow();
      }
    },
    rewind() {
      sendN = cursor + 1;
      wakeSender(); // it may be waiting for an ack that will not come
    },
    get depth() {
      return nextN - 1 - cursor - acked.size;
    },
    get resident() {
      return mem.size + queue.length;
    },
    lastN: () => nextN - 1,
    replay(n, fn) {
      replaySegments(segments, n, durableN, fn);
    },
    retain(n) {
      retainN = n;
      scheduleCursor();
    },
    async close() {
      closed = true;
      wakeSender();
      queue.releaseRoom();
      releaseWindow(true);
      await queue.flushed();
      clearTimeout(cursorTimer);
      cursorTimer = undefined;
      await saveCursor();
      writer.closeFile();
    },
  };
}
