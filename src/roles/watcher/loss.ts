/**
 * Loss detection of a watch. Deno drops events when JavaScript does not read them fast enough,
 * and the kernel when its queue overflows, mostly without telling anyone; so a watch assumes a
 * loss (and rescans its root) when: the OS flags an overflow; a burst of events was faster than
 * `burst_threshold` per second; the cookie file written into the root every `cookie_interval`
 * produced no event before the next one is written; the watcher failed; or a listing of a
 * touched directory did not match the snapshot (reported here by the reconciler).
 *
 * A rescan writes the cookie before it lists anything. The OS delivers a watch's events in order,
 * so an overflow (or a burst) read before that cookie's event was queued before the rescan began:
 * the rescan covers what it lost, and it starts no other. In a 100k-file burst the kernel's queue
 * overflowed more than once while the files were written, and each stale overflow cost a full
 * rescan more (0.8 s of a 5 s catch-up). When the cookie's own event is what got lost, the cookie
 * check rescans at its next tick.
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
  /**
   * Counts an event toward the burst rate; `cookie`: it named the cookie file. True when the
   * event itself says events were lost (the kernel queue overflowed): its rescan is due at once.
   */
  observe(event: Deno.FsEvent, cookie: boolean, now: number): boolean;
  /** Events may have been lost: counted, logged, answered by a rescan. */
  detected(reason: string): void;
  /** Asks for a rescan that is not a loss (e.g. catching up after polling). */
  request(reason: string): void;
  /** The reason of the rescan due now, if any; taking it clears it. */
  takeRescan(now: number): string | undefined;
  /**
   * A rescan begins at `now`, before it lists anything; `watching`: an OS watcher runs. Writes the
   * cookie: what is reported lost before its event comes back is covered by this rescan.
   */
  rescanning(now: number, watching: boolean): void;
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
  /** A rescan's cookie is out: what the events read meanwhile say was lost, that rescan covers. */
  let covered = false;

  /** Writes the cookie, now expected back; false when it cannot be written. */
  function writeCookie(now: number): boolean {
    cookieSeen = false;
    cookieAt = now;
    try {
      options.writeCookie(`${now}\n`);
      return true;
    } catch (err) {
      cookieSeen = true;
      if (!cookieBroken) {
        cookieBroken = true;
        log.warn("watch {watch}: cannot write the cookie file ({error}); relying on rescans", {
          watch: name,
          error: (err as Error).message,
        });
      }
      return false;
    }
  }

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
      if (cookie) {
        cookieSeen = true;
        covered = false;
      }
      if (covered) return false;
      if (now - burstWindow >= 1000) {
        burstWindow = now;
        burstCount = 0;
      }
      burstCount += event.paths.length;
      if (burstCount > options.burstThreshold) burstPending = true;
      if (event.flag !== "rescan") return false;
      detected("overflow");
      return true;
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
    rescanning(now, watching) {
      // What was read so far was queued before this rescan began.
      burstPending = false;
      covered = options.cookieInterval > 0 && watching && writeCookie(now);
    },
    cookieTick(now, watching) {
      if (options.cookieInterval <= 0 || !watching || now - cookieAt < options.cookieInterval) {
        return;
      }
      if (!cookieSeen) detected("cookie");
      writeCookie(now);
    },
    async close() {
      if (cookieAt) await options.removeCookie().catch(() => {});
    },
  };
}
