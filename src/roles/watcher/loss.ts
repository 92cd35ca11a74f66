/**
 * Loss detection of a watch. Deno drops events when JavaScript does not read them fast enough,
 * and the kernel when its queue overflows, mostly without telling anyone; so a watch assumes a
 * loss (and rescans its root) when: the OS flags an overflow; a burst of events was faster than
 * `burst_threshold` per second; the cookie file written into the root every `cookie_interval`
 * produced no event before the next one is written; the watcher failed; or a listing of a
 * touched directory did not match the snapshot (reported here by the reconciler).
 * @module
 */
import type { Logger } from "@logtape/logtape";
import type { WatcherMetrics } from "./metrics.ts";

/** What {@link createLossDetector} needs. */
export interface LossOptions {
  /** The watch's name (logs, metric labels). */
  name: string;
  /** The watched root (logs). */
  root: string;
  /** Events per second above which the kernel queue may have overflowed. */
  burstThreshold: number;
  /** A burst is answered once no event came for this long (ms): the watch's settle, ≥ 200. */
  burstQuiet: number;
  /** How often the cookie file is written (ms); 0 turns the check off. */
  cookieInterval: number;
  /** Writes the cookie file (throws when it cannot). */
  writeCookie(content: string): void;
  /** Removes the cookie file. */
  removeCookie(): Promise<void>;
  /** The role's logger. */
  log: Logger;
  /** The role's metrics. */
  metrics: WatcherMetrics;
}

/** The loss detector of one watch; its answer is the reason of the next rescan. */
export interface LossDetector {
  /** Counts an event toward the burst rate; `cookie`: it named the cookie file. */
  observe(event: Deno.FsEvent, cookie: boolean, now: number): void;
  /** Events may have been lost: counted, logged, answered by a rescan. */
  detected(reason: string): void;
  /** Asks for a rescan that is not a loss (e.g. catching up after polling). */
  request(reason: string): void;
  /** The reason of the rescan due now, if any; taking it clears it. */
  takeRescan(now: number): string | undefined;
  /** Writes the cookie when it is due; `watching`: an OS watcher runs (else no event can come). */
  cookieTick(now: number, watching: boolean): void;
  /** Removes the cookie file if one was written. */
  close(): Promise<void>;
}

/** Creates the loss detector of one watch. */
export function createLossDetector(options: LossOptions): LossDetector {
  const { name, log, metrics } = options;
  const labels = { watch: name };
  let rescanReason: string | undefined;
  let cookieAt = 0;
  let cookieSeen = true;
  let cookieBroken = false;
  let lastEvent = 0;
  let burstWindow = 0;
  let burstCount = 0;
  let burstPending = false;

  function detected(reason: string) {
    metrics.lossDetections.inc({ ...labels, reason });
    log.warn("watch {watch}: events may have been lost ({reason}); rescanning {root}", {
      watch: name,
      reason,
      root: options.root,
    });
    rescanReason = reason;
  }

  return {
    observe(event, cookie, now) {
      lastEvent = now;
      if (now - burstWindow >= 1000) {
        burstWindow = now;
        burstCount = 0;
      }
      burstCount += event.paths.length;
      if (burstCount > options.burstThreshold) burstPending = true;
      if (event.flag === "rescan") detected("overflow");
      if (cookie) cookieSeen = true;
    },
    detected,
    request(reason) {
      rescanReason = reason;
    },
    takeRescan(now) {
      if (rescanReason !== undefined) {
        const reason = rescanReason;
        rescanReason = undefined;
        return reason;
      }
      if (burstPending && now - lastEvent >= options.burstQuiet) {
        burstPending = false;
        detected("burst");
        rescanReason = undefined;
        return "burst";
      }
      return undefined;
    },
    cookieTick(now, watching) {
      if (options.cookieInterval <= 0 || !watching || now - cookieAt < options.cookieInterval) {
        return;
      }
      if (!cookieSeen) detected("cookie");
      cookieSeen = false;
      cookieAt = now;
      try {
        options.writeCookie(`${now}\n`);
      } catch (err) {
        cookieSeen = true;
        if (!cookieBroken) {
          cookieBroken = true;
          log.warn("watch {watch}: cannot write the cookie file ({error}); relying on rescans", {
            watch: name,
            error: (err as Error).message,
          });
        }
      }
    },
    async close() {
      if (cookieAt) await options.removeCookie().catch(() => {});
    },
  };
}
