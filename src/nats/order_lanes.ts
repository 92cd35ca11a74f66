/**
 * The per-key order queue of the publisher: per order key, its messages in publish order. Only a
 * message heading every lane it is in may be in flight, because pipelining two messages with one
 * key can store them out of order when the first one's attempt is lost (see `publisher.ts`).
 * @module
 */

/** Something queued by order keys. */
export interface Laned {
  /** Its order keys, each once. */
  readonly keys: readonly string[];
}

/** The lanes of one publisher; see the module docs. */
export interface OrderLanes<T extends Laned> {
  /** Appends `e` to the lane of each of its keys; true when it heads them all (may go now). */
  join(e: T): boolean;
  /** Takes `e` out of its lanes; returns the messages that were right behind it. */
  leave(e: T): T[];
  /** Whether `e` heads the lane of each of its keys. */
  heads(e: T): boolean;
}

/** Creates empty lanes. */
export function createOrderLanes<T extends Laned>(): OrderLanes<T> {
  const lanes = new Map<string, T[]>();
  return {
    join(e) {
      let first = true;
      for (const key of e.keys) {
        const lane = lanes.get(key);
        if (lane) {
          lane.push(e);
          first = false;
        } else lanes.set(key, [e]);
      }
      return first;
    },
    leave(e) {
      const next: T[] = [];
      for (const key of e.keys) {
        const lane = lanes.get(key)!;
        const i = lane.indexOf(e);
        lane.splice(i, 1);
        if (lane.length === 0) lanes.delete(key);
        else if (i < lane.length) next.push(lane[i]);
      }
      return next;
    },
    heads(e) {
      return e.keys.every((k) => lanes.get(k)![0] === e);
    },
  };
}
