/**
 * Acks that may have died with a consumer leader. An ack sent to a leader in its last moments
 * need not reach the new leader, which would redeliver the message only after `ack_wait`. So the
 * acks of events written are kept until the consumer's ack floor passes them, and sent again
 * after a pull that follows a leader change, or when the floor stops moving while acks are
 * pending. Acking a message the consumer no longer has pending is a no-op, so sending one again
 * is always safe (each acked event has its line, whichever of its deliveries the ack names); this
 * only makes redelivery (which the written-sequence record turns into a skipped line) rarer and
 * the ack floor move sooner.
 *
 * Kept a group at a time, as the ack frames the group was acked with (`src/nats/ack_frames.ts`):
 * no entry per message (a map entry per event was a twentieth of the monitor's CPU), and sending
 * them again is one write per group.
 * @module
 */
import type { NatsConnection } from "@nats-io/nats-core";
import { sendAckFrames } from "../../nats/ack_frames.ts";

/** Most remembered acks (oldest groups forgotten first). */
const MAX_REMEMBERED = 100_000;
/** Times an ack is sent again before it is forgotten (another instance may hold the floor). */
const MAX_REACKS = 3;

/** Remembered acks; see the module doc. */
export interface Reacks {
  /** Remembers the ack frames of a group of acked messages, `seqs` their stream sequences. */
  remember(frames: Uint8Array, seqs: readonly number[]): void;
  /** Sends every remembered ack again; returns how many. */
  resend(nc: NatsConnection): number;
  /**
   * Forgets the groups at or below the consumer's ack `floor`; true when the floor did not move
   * since the last call while acks sent once are still remembered (they were likely lost).
   */
  floorIs(floor: number, ackPending: number): boolean;
}

/** A group's acks. */
interface Group {
  frames: Uint8Array;
  /** Its highest stream sequence: the group is forgotten once the ack floor reaches it. */
  top: number;
  /** Its acks. */
  count: number;
  /** Times it was sent again. */
  reacks: number;
}

/** Creates an empty {@link Reacks}. */
export function createReacks(): Reacks {
  let groups: Group[] = [];
  let remembered = 0;
  let lastFloor = -1;
  const keep = (keepIt: (g: Group) => boolean) => {
    groups = groups.filter(keepIt);
    remembered = groups.reduce((n, g) => n + g.count, 0);
  };
  return {
    remember(frames, seqs) {
      if (frames.length === 0 || seqs.length === 0) return;
      let top = 0;
      for (const seq of seqs) if (seq > top) top = seq;
      groups.push({ frames, top, count: seqs.length, reacks: 0 });
      remembered += seqs.length;
      while (remembered > MAX_REMEMBERED && groups.length > 1) {
        remembered -= groups.shift()!.count;
      }
    },
    resend(nc) {
      let n = 0;
      for (const g of groups) {
        sendAckFrames(nc, g.frames);
        n += g.count;
        g.reacks++;
      }
      keep((g) => g.reacks < MAX_REACKS);
      return n;
    },
    floorIs(floor, ackPending) {
      keep((g) => g.top > floor);
      const stuck = floor === lastFloor && ackPending > 0;
      lastFloor = floor;
      return stuck && groups.some((g) => g.reacks === 0);
    },
  };
}
