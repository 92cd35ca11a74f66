/**
 * The monitor's durable record of which stream sequences have a line in its log, so that every
 * event gets exactly one line across consumer and stream leader changes, reconnects and restarts
 * of the daemon (kill -9 included). The consumer's own ack state cannot promise that: an ack (or
 * an ack floor) a dying leader reported need not survive on the new leader, so written events come
 * again; the monitor acks such a redelivery without writing it (`monitor_redeliveries_skipped_total`).
 *
 * The record is an append-only journal, `<state_dir>/monitor/<consumer>/written` (see
 * {@link writtenPath}), one line per batch: `b <inode> <size> <ranges>` = "the log file with this
 * inode is `size` bytes long, and the sequences in `ranges` (e.g. `7-9,12`) are in it". Each batch
 * goes: lines written to the log and flushed (fsync with `output.fsync`); its journal line appended and synced; then the acks. A kill -9 between any
 * two steps:
 * - before the journal line is complete: the log may hold lines of a batch the journal does not
 *   name. At the next start the log is cut back to the size of the last complete journal line
 *   ({@link import("./log_tail.ts").cutUncommittedTail}); those events were not acked, so they
 *   come again and are written once.
 * - after the journal line, before or during the acks: the lines are in the log and named in the
 *   journal; the events come again and are acked without a line.
 * A torn last journal line (no newline) is ignored, which is the first case. Everything at or
 * below the consumer's ack floor has been acked, so by this monitor written (or dead-lettered):
 * `floor <n>` records that and lets ranges below it be forgotten; the journal is rewritten (temp
 * file, sync, rename) as `stream`/`floor`/`log`/`w <ranges>` once it has grown. `stream <created>`
 * names the stream's creation time: a stream deleted and created again restarts its sequences,
 * and the record is then started afresh.
 * @module
 */
import { createSeqRanges, type SeqRanges } from "./seq_ranges.ts";

/** Where a log file ends: its inode and size (what {@link LogEnd} names). */
export interface LogEnd {
  /** Inode of the live log file. */
  ino: number;
  /** Its size in bytes. */
  size: number;
}

/** The written-sequence record; see the module doc. */
export interface WrittenRecord {
  /** True when `seq` has its line (or is at or below the floor: handled). */
  has(seq: number): boolean;
  /** Every sequence at or below this is handled (the highest ack floor seen). */
  floor(): number;
  /** Raises the floor to the consumer's ack floor (in memory; persisted with the next rewrite). */
  raiseFloor(ackFloor: number): void;
  /** Where the log ended after the last committed batch (undefined: nothing recorded yet). */
  committed(): LogEnd | undefined;
  /**
   * Checks the stream's creation time against the recorded one; when it differs (the stream was
   * created again, its sequences restarted) the record starts afresh. Returns true then.
   */
  ofStream(created: string): Promise<boolean>;
  /**
   * Records that `seqs` are in the log, which now ends at `end`; resolves once synced. With no
   * `seqs` it records only where the log ends (at start, before the first batch).
   */
  commit(seqs: readonly number[], end: LogEnd): Promise<void>;
  /** Closes the journal. */
  close(): void;
}

/** Journal lines appended before it is rewritten compactly. */
const REWRITE_AFTER = 2048;

/** The journal of consumer `consumer` under `stateDir`: `<stateDir>/monitor/<consumer>/written`. */
export function writtenPath(stateDir: string, consumer: string): string {
  return `${stateDir}/monitor/${consumer}/written`;
}

const encoder = new TextEncoder();

/** Opens (creating it and its directory if missing) and reads the journal at `path`. */
export async function openWrittenRecord(
  path: string,
  options: { fsync: boolean },
): Promise<WrittenRecord> {
  const dir = path.replace(/\/[^/]*$/, "");
  await Deno.mkdir(dir, { recursive: true });
  let stream: string | undefined;
  let floor = 0;
  let ranges: SeqRanges = createSeqRanges();
  let end: LogEnd | undefined;
  let lines = 0;

  const text = await Deno.readTextFile(path).catch((err) => {
    if (err instanceof Deno.errors.NotFound) return "";
    throw err;
  });
  const complete = text.slice(0, text.lastIndexOf("\n") + 1); // a torn last line never happened
  for (const line of complete.split("\n")) {
    if (line === "") continue;
    lines++;
    const [kind, a = "", b = "", c = ""] = line.split(" ");
    if (kind === "stream") stream = a;
    else if (kind === "floor") floor = Math.max(floor, Number(a));
    else if (kind === "w") ranges = createSeqRanges(a);
    else if (kind === "log" || kind === "b") {
      end = { ino: Number(a), size: Number(b) };
      for (const seq of kind === "b" ? seqsOf(c) : []) ranges.add(seq);
    } else throw new Error(`${path}: unknown line "${line}"`);
  }
  ranges.dropThrough(floor);

  let journal = await Deno.open(path, { append: true, create: true });
  if (complete.length !== text.length) await journal.truncate(complete.length);

  const snapshot = () =>
    [
      stream ? `stream ${stream}\n` : "",
      `floor ${floor}\n`,
      end ? `log ${end.ino} ${end.size}\n` : "",
      `w ${ranges}\n`,
    ].join("");

  /** Replaces the journal with a snapshot: temp file, synced, renamed over it. */
  async function rewrite(): Promise<void> {
    const tmp = `${path}.tmp`;
    await Deno.writeTextFile(tmp, snapshot());
    if (options.fsync) {
      using f = await Deno.open(tmp, { write: true });
      await f.sync();
    }
    journal.close();
    await Deno.rename(tmp, path);
    if (options.fsync) await syncDir(dir);
    journal = await Deno.open(path, { append: true });
    lines = 4;
  }

  async function append(line: string): Promise<void> {
    await journal.write(encoder.encode(line));
    if (options.fsync) await journal.syncData();
    if (++lines > REWRITE_AFTER) await rewrite();
  }

  return {
    has: (seq) => seq <= floor || ranges.has(seq),
    floor: () => floor,
    raiseFloor(ackFloor) {
      if (ackFloor <= floor) return;
      floor = ackFloor;
      ranges.dropThrough(floor);
    },
    committed: () => end,
    async ofStream(created) {
      if (stream === created) return false;
      const reset = stream !== undefined;
      if (reset) {
        floor = 0;
        ranges = createSeqRanges();
      }
      stream = created;
      await rewrite();
      return reset;
    },
    async commit(seqs, logEnd) {
      const batch = createSeqRanges();
      for (const seq of seqs) {
        batch.add(seq);
        ranges.add(seq);
      }
      end = logEnd;
      await append(`b ${logEnd.ino} ${logEnd.size} ${batch}\n`);
    },
    close: () => journal.close(),
  };
}

/** Makes a rename in `dir` durable (where the platform lets a directory be opened). */
async function syncDir(dir: string): Promise<void> {
  try {
    using d = await Deno.open(dir, { read: true });
    await d.sync();
  } catch {
    // Not supported here (Windows): the rename is still atomic, only its durability is the OS's.
  }
}

function* seqsOf(text: string): Generator<number> {
  for (const part of text.split(",")) {
    if (part === "") continue;
    const [from, to = from] = part.split("-").map(Number);
    for (let s = from; s <= to; s++) yield s;
  }
}
