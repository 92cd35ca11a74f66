/**
 * The circuit breaker: when a dependency is down (S3 unreachable, the http handler refusing
 * connections), every event fails the same way, and retrying each one would only burn its
 * deliveries until all of them sit in the DLQ. After `threshold` consecutive outage failures of
 * *different* events (one event failing repeatedly may be that event's fault) the breaker opens:
 * the puller stops asking for messages, workers holding one keep it (heartbeating) and retry it
 * in place once the breaker closes, and a probe of the dependency runs with backoff. When a probe
 * succeeds the breaker closes and pulling resumes. `hold`/`release` let the role also pause the
 * consumer on the server (2.11+), so other processes stop too.
 * @module
 */
import type { Logger } from "@logtape/logtape";
import type { Counter, Gauge } from "../../http/metrics.ts";
import { delay } from "../../platform/delay.ts";
import type { Dependency, UploadFailure } from "./failure.ts";

/** Settings of {@link createBreaker}. */
export interface BreakerOptions {
  /** Consecutive outage failures of different events that open it; 0: never opens. */
  threshold: number;
  /** Waits between probes (ms); the last repeats. */
  probeBackoff: readonly number[];
  /** True when `dependency` answers again. */
  probe(dependency: Dependency, signal: AbortSignal): Promise<boolean>;
  /** Called when it opens and before each wait: keep others from pulling for `ms`. */
  hold?(ms: number): Promise<void>;
  /** Called when it closes: others may pull again. */
  release?(): Promise<void>;
  /** Called when it closes (after `release`): pull again. */
  onClose(): void;
  /** Logger. */
  log: Logger;
  /** 1 while open. */
  openGauge: Gauge;
  /** Times it opened. */
  opened: Counter;
}

/** A circuit breaker; see the module comment. */
export interface Breaker {
  /**
   * Records a failure of `eventId`. True when the breaker is open (now or already) and the
   * failure is an outage: the caller then waits for {@link closed} and tries again in place.
   */
  failed(failure: UploadFailure, eventId: string): boolean;
  /** Records a success (the dependencies answer). */
  succeeded(): void;
  /** Resolves when the breaker is closed, or when `signal` aborts. */
  closed(signal: AbortSignal): Promise<void>;
  /** Why it is open (for `/readyz`), or undefined. */
  reason(): string | undefined;
  /** True while open. */
  readonly open: boolean;
  /** Stops probing (role stop); waiters are let go. */
  close(): void;
}

const NAMES: Record<Dependency, string> = { s3: "S3", handler: "the http handler" };

/** Creates a closed breaker. */
export function createBreaker(opts: BreakerOptions): Breaker {
  const { log } = opts;
  const streak = new Set<string>();
  const stopped = new AbortController();
  let open: { dependency: Dependency; since: Date; error: string } | undefined;
  let waiters: (() => void)[] = [];

  function letGo() {
    const w = waiters;
    waiters = [];
    for (const resolve of w) resolve();
  }

  async function probing(dependency: Dependency) {
    for (let i = 0; open && !stopped.signal.aborted; i++) {
      const wait = opts.probeBackoff[Math.min(i, opts.probeBackoff.length - 1)];
      await opts.hold?.(wait).catch((err) =>
        log.warn("could not pause the consumer: {error}", { error: (err as Error).message })
      );
      await delay(wait, stopped.signal);
      if (stopped.signal.aborted) return;
      if (await opts.probe(dependency, stopped.signal)) break;
      log.debug("{what} still down (probe {n})", { what: NAMES[dependency], n: i + 1 });
    }
    if (stopped.signal.aborted || !open) return;
    const seconds = Math.round((Date.now() - open.since.getTime()) / 1000);
    open = undefined;
    streak.clear();
    opts.openGauge.set(0);
    log.info("{what} answers again after {s} s: circuit closed, pulling again", {
      what: NAMES[dependency],
      s: seconds,
    });
    await opts.release?.().catch((err) =>
      log.warn("could not resume the consumer: {error}", { error: (err as Error).message })
    );
    letGo();
    opts.onClose();
  }

  return {
    failed(failure, eventId) {
      if (open) return failure.outage !== undefined;
      if (!failure.outage || opts.threshold === 0) {
        streak.clear();
        return false;
      }
      streak.add(eventId);
      if (streak.size < opts.threshold) return false;
      open = { dependency: failure.outage, since: new Date(), error: failure.message };
      opts.openGauge.set(1);
      opts.opened.inc();
      log.warn(
        "{what} looks down ({n} uploads in a row failed, last: {error}): circuit open, " +
          "not pulling, probing with backoff",
        { what: NAMES[failure.outage], n: streak.size, error: failure.message },
      );
      probing(failure.outage);
      return true;
    },
    succeeded() {
      streak.clear();
    },
    closed(signal) {
      if (!open || signal.aborted || stopped.signal.aborted) return Promise.resolve();
      return new Promise((resolve) => {
        waiters.push(resolve);
        signal.addEventListener("abort", () => resolve(), { once: true });
      });
    },
    reason() {
      if (!open) return undefined;
      return `circuit open since ${open.since.toISOString()}: ${NAMES[open.dependency]} is ` +
        `down (${open.error}); probing`;
    },
    get open() {
      return open !== undefined;
    },
    close() {
      stopped.abort();
      letGo();
    },
  };
}
