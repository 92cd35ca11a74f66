/**
 * The on-disk outbox: events are appended (JSON lines, fsync'd in batches) before they are
 * published and stay until their PubAck arrives, so a NATS outage or a crash loses nothing.
 * Segments roll at {@link SEGMENT_BYTES}; a segment is deleted once every record in it is
 * acknowledged; `cursor` (written atomically) holds the number of the last record below which
 * everything is acknowledged. A torn last line (crash mid-write) is ignored at open: that record
 * was never durable, so it was never published and the snapshot never included its change.
 * @module
 */
import { type FileState, writeFileAtomic } from "./snapshot.ts";

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
  /** The number of the last record appended. */
  lastN(): number;
  /** Records on disk at open with a number above `n`, acknowledged or not. */
  history(n: number): OutboxRecord[];
  /** Keeps records above `n` on disk even once acknowledged (a snapshot does not cover them). */
  retain(n: number): void;
  /** Writes what is buffered and the cursor, and releases waiters. */
  close(): Promise<void>;
}

/** Size at which a new segment is started. */
export const SEGMENT_BYTES = 8 * 1024 * 1024;

interface Segment {
  path: string;
  lastN: number;
}

const encoder = new TextEncoder();

/** Opens (or creates) the outbox in `dir`, loading what was not acknowledged. */
export async function openOutbox(dir: string): Promise<Outbox> {
  await Deno.mkdir(dir, { recursive: true });
  const cursorPath = `${dir}/cursor`;
  let cursor = 0;
  try {
    cursor = Number((await Deno.readTextFile(cursorPath)).trim()) || 0;
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  const records = new Map<number, OutboxRecord>();
  const history: OutboxRecord[] = [];
  let retainN = 0;
  const segments: Segment[] = [];
  const names = [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) =>
    /^seg-\d+\.jsonl$/.test(n)
  ).sort();
  let lastN = cursor;
  for (const name of names) {
    const path = `${dir}/${name}`;
    let segLast = 0;
    for (const line of (await Deno.readTextFile(path)).split("\n")) {
      if (!line) continue;
      let rec: OutboxRecord;
      try {
        rec = JSON.parse(line);
      } catch {
        continue; // torn write at a crash: never durable, never published
      }
      segLast = Math.max(segLast, rec.n);
      history.push(rec);
      if (rec.n > cursor) records.set(rec.n, rec);
    }
    lastN = Math.max(lastN, segLast);
    segments.push({ path, lastN: segLast });
  }

  let nextN = lastN + 1;
  let durableN = lastN;
  let sendN = cursor + 1;
  let buffer: OutboxRecord[] = [];
  let writing: Promise<void> | undefined;
  let current: { file: Deno.FsFile; path: string; bytes: number } | undefined;
  let closed = false;
  let wake: (() => void) | undefined;
  let cursorDirty = false;
  let cursorTimer: number | undefined;

  async function openSegment(firstN: number) {
    const path = `${dir}/seg-${String(firstN).padStart(12, "0")}.jsonl`;
    const file = await Deno.open(path, { append: true, create: true });
    current = { file, path, bytes: 0 };
    segments.push({ path, lastN: 0 });
  }

  async function writeBatches() {
    while (buffer.length > 0) {
      const batch = buffer;
      buffer = [];
      if (!current || current.bytes > SEGMENT_BYTES) {
        current?.file.close();
        await openSegment(batch[0].n);
      }
      const data = encoder.encode(batch.map((r) => JSON.stringify(r) + "\n").join(""));
      let written = 0;
      while (written < data.length) written += await current!.file.write(data.subarray(written));
      await current!.file.syncData();
      current!.bytes += data.length;
      durableN = batch[batch.length - 1].n;
      segments[segments.length - 1].lastN = durableN;
      wake?.();
    }
  }

  function kick(): Promise<void> {
    if (!writing) {
      writing = writeBatches().finally(() => {
        writing = undefined;
        if (buffer.length > 0) kick();
      });
    }
    return writing;
  }

  async function flushed() {
    while (buffer.length > 0 || writing) await kick();
  }

  async function saveCursor() {
    cursorDirty = false;
    await writeFileAtomic(cursorPath, `${cursor}\n`);
    // Segments whose records are all acknowledged are no longer needed.
    while (segments.length > 1 && segments[0].lastN <= Math.min(cursor, retainN)) {
      await Deno.remove(segments.shift()!.path).catch(() => {});
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
    append(record) {
      const rec = { n: nextN++, ...record };
      records.set(rec.n, rec);
      buffer.push(rec);
      kick();
    },
    flushed,
    async next() {
      while (!closed) {
        while (sendN <= durableN && !records.has(sendN)) sendN++;
        if (sendN <= durableN) return records.get(sendN++)!;
        await new Promise<void>((r) => (wake = r));
        wake = undefined;
      }
      return undefined;
    },
    ack(n) {
      records.delete(n);
      const before = cursor;
      while (cursor < durableN && !records.has(cursor + 1)) cursor++;
      if (cursor !== before) scheduleCursor();
    },
    rewind() {
      sendN = cursor + 1;
    },
    get depth() {
      return records.size;
    },
    lastN: () => nextN - 1,
    history: (n) => history.filter((r) => r.n > n),
    retain(n) {
      retainN = n;
    },
    async close() {
      closed = true;
      wake?.();
      await flushed();
      clearTimeout(cursorTimer);
      cursorTimer = undefined;
      await saveCursor();
      current?.file.close();
      current = undefined;
    },
  };
}
