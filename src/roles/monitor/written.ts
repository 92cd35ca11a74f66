/**
 * The monitor's durable record of which stream sequences have a line in its log, so that every
 * event gets exactly one line across consumer and stream leader changes, reconnects and restarts
 * of the daemon (kill -9 included). The consumer's own ack state cannot promise that: an ack (or
 * an ack floor) a dying leader reported need not survive on the new leader, so written events come
 * again; the monitor acks such a redelivery without writing it
 * (`monitor_redeliveries_skipped_total`).
 *
 * The record is an append-only journal, `<state_dir>/monitor/<consumer>/written` (see
 * {@link writtenPath}), one line per batch: `b <inode> <size> <ranges>` = "the log file with this
 * inode is `size` bytes long, and the sequences in `ranges` (e.g. `7-9,12`) are in it". Each batch
 * goes: its lines written to the log and flushed (fsync with `output.fsync`); its journal line
 * appended; then the acks. A kill -9 between any two steps:
 * - before the journal line is complete: the log may hold lines of a batch the journal does not
 *   name. At the next start the log is cut back to the size of the last complete journal line
 *   (`log_tail.ts`); those events were not acked, so they come again and are written once.
 * - after the journal line, before or during the acks: the lines are in the log and named in the
 *   journal; the events come again and are acked without a line.
 * A torn last journal line (no newline) is ignored, which is the first case.
 *
 * One fsync per batch (the log's): a journal line in the page cache survives a kill -9 of the
 * process, which is all the cut needs. It may not survive a machine crash, so the journal names
 * the boot it was written in (`boot <id>`, Linux's boot_id); after a reboot its end may lag the
 * log's, and the log is not cut (nothing acked is ever cut; at worst an event unacked at the crash
 * gets a second line). Where no boot id can be read, every journal line is synced instead.
 *
 * Everything at or below the consumer's ack floor has been acked, so written by this monitor (or
 * dead-lettered, or handled by another instance): `floor <n>` records that and lets ranges below it
 * be forgotten. The journal is rewritten compactly (temp file, sync, rename) as
 * `stream`/`floor`/`boot`/`log`/`w <ranges>` once it has grown. `stream <created>` names the
 * stream's creation time: a stream deleted and created again restarts its sequences, and the
 * record then starts afresh.
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
  /**
   * Where the log ended after the last committed batch, when the journal is as recent as the log
   * (written since this boot); undefined when nothing is recorded or the machine restarted since.
   */
  committed(): LogEnd | undefined;
  /**
   * True when the journal was written before the machine last booted (its end may lag the log's).
   */
  fromEarlierBoot(): boolean;
  /**
   * Checks the stream's creation time against the recorded one; when it differs (the stream was
   * created again, its sequences restarted) the record starts afresh. Returns true then.
   */
  ofStream(created: string): Promise<boolean>;
  /** Records, synced, where the log ends as writing starts (this boot's first line). */
  begin(end: LogEnd): Promise<void>;
  /** Records that `seqs` are in the log, which now ends at `end`. */
  commit(seqs: readonly number[], end: LogEnd): Promise<void>;
  /** Closes the journal. */
  close(): void;
}

/** Options of {@link openWrittenRecord}. */
export interface WrittenOptions {
  /** Sync the journal where it matters (the per-batch lines only without a boot id). */
  fsync: boolean;
  /** This boot's id ({@link currentBootId}); undefined where none can be read. */
  bootId: string | undefined;
}

/** Linux's id of the running boot, or undefined where it cannot be read. */
export function currentBootId(): string | undefined {
  try {
    return Deno.readTextFileSync("/proc/sys/kernel/random/boot_id").trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Sequence ranges as the journal writes them: `1-5,7` (or nothing). */
const RANGES = /^(\d+(-\d+)?(,\d+(-\d+)?)*)?$/;

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
  options: WrittenOptions,
): Promise<WrittenRecord> {
  const dir = path.replace(/\/[^/]*$/, "");
  await Deno.mkdir(dir, { recursive: true });
  let stream: string | undefined;
  let floor = 0;
  let ranges: SeqRanges = createSeqRanges();
  let end: LogEnd | undefined;
  let boot: string | undefined;
  let lines = 0;

  const bytes = await Deno.readFile(path).catch((err) => {
    if (err instanceof Deno.errors.NotFound) return new Uint8Array();
    throw err;
  });
  /** Applies one journal line; false when it is not one (damaged: the journal ends before it). */
  const apply = (line: string): boolean => {
    const [kind, a = "", b = "", c = ""] = line.split(" ");
    if (!/^[\x20-\x7e]*$/.test(line)) return false;
    if (kind === "stream") stream = a;
    else if (kind === "boot") boot = a;
    else if (kind === "floor" && /^\d+$/.test(a)) floor = Math.max(floor, Number(a));
    else if (kind === "w" && RANGES.test(a)) ranges = createSeqRanges(a);
    else if ((kind === "log" || kind === "b") && /^\d+$/.test(a) && /^\d+$/.test(b)) {
      if (kind === "b" && !RANGES.test(c)) return false;
      end = { ino: Number(a), size: Number(b) };
      for (const seq of kind === "b" ? seqsOf(c) : []) ranges.add(seq);
    } else return false;
    return true;
  };
  // Only whole lines count: a torn last line (a kill -9 mid-append) never happened. Valid lines
  // are ASCII, so their characters are their bytes.
  const text = new TextDecoder().decode(bytes);
  let good = 0;
  for (let nl = text.indexOf("\n"); nl >= 0; nl = text.indexOf("\n", good)) {
    if (!apply(text.slice(good, nl))) break;
    good = nl + 1;
    lines++;
  }
  ranges.dropThrough(floor);

  let journal = await Deno.open(path, { append: true, create: true });
  if (good !== bytes.length) await journal.truncate(good);

  const snapshot = () =>
    [
      stream ? `stream ${stream}\n` : "",
      `floor ${floor}\n`,
      boot ? `boot ${boot}\n` : "",
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
    lines = 5;
  }

  async function append(line: string, sync = false): Promise<void> {
    // A line of a few dozen bytes into the page cache: written at once, without a round trip
    // through Deno's blocking-I/O pool (two per batch of those cost more than the write).
    const bytes = encoder.encode(line);
    for (let off = 0; off < bytes.length;) off += journal.writeSync(bytes.subarray(off));
    if (options.fsync && (sync || !options.bootId)) await journal.syncData();
    lines += line.split("\n").length - 1;
    if (lines > REWRITE_AFTER) await rewrite();
  }

  const earlierBoot = () =>
    boot !== undefined && options.bootId !== undefined && boot !== options.bootId;

  return {
    has: (seq) => seq <= floor || ranges.has(seq),
    floor: () => floor,
    raiseFloor(ackFloor) {
      if (ackFloor <= floor) return;
      floor = ackFloor;
      ranges.dropThrough(floor);
    },
    committed: () => (earlierBoot() ? undefined : end),
    fromEarlierBoot: earlierBoot,
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
    async begin(logEnd) {
      end = logEnd;
      boot = options.bootId;
      await append(`${boot ? `boot ${boot}\n` : ""}b ${logEnd.ino} ${logEnd.size} \n`, true);
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
