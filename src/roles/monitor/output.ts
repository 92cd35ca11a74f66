/**
 * Opens what the monitor writes: its log file and, beside it under `state_dir`, the journal of
 * written sequences (`written.ts`). Before the log is opened for appending, lines a kill -9 left
 * in it without a journal line are cut off (`log_tail.ts`): their events were never acked and
 * come again. The journal then records where the log ends as writing starts.
 * @module
 */
import type { Logger } from "@logtape/logtape";
import { openRotatingFile, type RotatingFile } from "../../platform/rotating_file.ts";
import type { MonitorConfig } from "./config.ts";
import { currentBootId, openWrittenRecord, writtenPath, type WrittenRecord } from "./written.ts";
import { cutUncommittedTail, logEnd } from "./log_tail.ts";

/** The monitor's open log and journal. */
export interface MonitorOutput {
  /** The log. */
  file: RotatingFile;
  /** The written-sequence journal. */
  written: WrittenRecord;
}

/** Opens the journal (`<stateDir>/monitor/<consumer>/written`), repairs the log, opens it. */
export async function openOutput(
  cfg: MonitorConfig,
  stateDir: string,
  log: Logger,
): Promise<MonitorOutput> {
  const path = cfg.output.path;
  const journal = writtenPath(stateDir, cfg.consumer);
  const written = await openWrittenRecord(journal, {
    fsync: cfg.output.fsync,
    bootId: currentBootId(),
  });
  if (written.fromEarlierBoot()) {
    log.warn(
      "the machine restarted since {journal} was written: {path} is not cut back (an event " +
        "unacked at the crash may get a second line)",
      { journal, path },
    );
  }
  try {
    await repairTail(cfg, journal, written, log);
    const file = await openRotatingFile(path, {
      maxSize: cfg.output.rotate.max_size,
      keep: cfg.output.rotate.keep,
      fsync: cfg.output.fsync,
    });
    await written.begin(logEnd(file.path));
    return { file, written };
  } catch (err) {
    written.close();
    throw err;
  }
}

/** Cuts off the log's lines that have no journal line, saying so. */
async function repairTail(
  cfg: MonitorConfig,
  journal: string,
  written: WrittenRecord,
  log: Logger,
): Promise<void> {
  const path = cfg.output.path;
  const committed = written.committed();
  if (!committed) return;
  const repair = await cutUncommittedTail(path, cfg.output.rotate.keep, committed);
  if (repair.kind === "cut") {
    log.warn("cut {bytes} bytes of lines never acked from the end of {path} (kill -9?)", {
      bytes: repair.bytes,
      path,
    });
  } else if (repair.kind === "unknown") {
    log.warn("{path} is not where {journal} says the log ended ({why}); writing on", {
      path,
      journal,
      why: repair.why,
    });
  }
}
