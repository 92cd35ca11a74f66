/**
 * Successes finishing behind their workers. After the handler, a success still needs its `done`
 * record, its result event's PubAck and its ack: round trips in a row (in that order, which
 * `outcome.ts` keeps) during which a worker would only wait. Profiles showed the role idle most of
 * the time for them, so a worker hands them here and takes the next event.
 *
 * Bounded: at most `limit` deliveries finish at once; a worker that finds no room waits for it.
 * So the process holds at most workers + `limit` unacked messages (`limits.ts` keeps that within
 * the consumer's `max_ack_pending`), and a `done` record retried through a bucket outage stalls the
 * workers instead of piling up. The role's stop awaits what is finishing within the grace; at the
 * deadline its `abort` cuts it off, and a delivery cut off is given back, not acked.
 * @module
 */

/** Deliveries finishing behind their workers. */
export interface Finishing {
  /**
   * Starts `finish` behind the caller (it must not throw); resolves once it has started, which
   * waits while `limit` others are running. With a `limit` of 0, resolves once it has ended.
   */
  add(finish: () => Promise<void>): Promise<void>;
  /** How many are finishing now. */
  readonly size: number;
  /** Resolves once nothing is finishing, including what is added meanwhile (for the stop). */
  idle(): Promise<void>;
}

/** Creates the finishing area, with room for `limit` deliveries. */
export function createFinishing(limit: number): Finishing {
  const running = new Set<Promise<void>>();
  const waiting: (() => void)[] = [];

  return {
    async add(finish) {
      if (limit <= 0) return await finish();
      while (running.size >= limit) await new Promise<void>((room) => waiting.push(room));
      const finishing = finish().finally(() => {
        running.delete(finishing);
        waiting.shift()?.();
      });
      running.add(finishing);
    },
    get size() {
      return running.size;
    },
    async idle() {
      while (running.size > 0) await Promise.allSettled([...running]);
    },
  };
}
