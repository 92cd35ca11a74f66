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
  leave(e: T): readonly T[];
  /** Whether `e` heads the lane of each of its keys. */
  heads(e: T): boolean;
}

/** What `leave` returns when nobody was behind: shared, one allocation less per message. */
const NONE: readonly never[] = [];

/** Creates empty lanes. */
export function createOrderLanes<T extends Laned>(): OrderLanes<T> {
  // A lane of one message (nearly every lane: one file's event at a time) is the message itself;
  // an array only once a second one joins.
  const lanes = new Map<string, T | T[]>();
  const head = (lane: T | T[]) => Array.isArray(lane) ? lane[0] : lane;
  return {
    join(e) {
      let first = true;
      for (const key of e.keys) {
        const lane = lanes.get(key);
        if (lane === undefined) lanes.set(key, e);
        else {
          if (Array.isArray(lane)) lane.push(e);
          else lanes.set(key, [lane, e]);
          first = false;
        }
      }
      return first;
    },
    leave(e) {
      let next: T[] | undefined;
      for (const key of e.keys) {
        const lane = lanes.get(key)!;
        if (!Array.isArray(lane)) {
          lanes.delete(key);
          continue;
        }
        const i = lane.indexOf(e);
        lane.splice(i, 1);
        if (i < lane.length) (next ??= []).push(lane[i]);
        if (lane.length === 1) lanes.set(key, lane[0]); // one left: the message itself again
      }
      return next ?? NONE;
    },
    heads(e) {
      return e.keys.every((k) => head(lanes.get(k)!) === e);
    },
  };
}
