/**
 * Acks that may have died with a consumer leader. An ack sent to a leader in its last moments
 * need not reach the new leader, which would redeliver the message only after `ack_wait`. So the
 * ack subjects of events written and acked are kept until the consumer's ack floor passes them,
 * and sent again after a pull that follows a leader change, or when the floor stops moving while
 * acks are pending. Acking a message the consumer no longer has pending is a no-op, so sending one
 * again is always safe; this only makes redelivery (which the written-sequence record turns into
 * a skipped line) rarer and the ack floor move sooner.
 * @module
 */
import type { NatsConnection } from "@nats-io/nats-core";
import type { JsMsg } from "@nats-io/jetstream";
import { ackSubject, reack } from "../../nats/leader_change.ts";

/** Most remembered acks (oldest forgotten first). */
const MAX_REMEMBERED = 100_000;
/** Times an ack is sent again before it is forgotten (another instance may hold the floor). */
const MAX_REACKS = 3;

/** Remembered acks; see the module doc. */
export interface Reacks {
  /** Remembers the ack subject of `msg` (written and acked). */
  remember(msg: JsMsg): void;
  /** Sends every remembered ack again; returns how many. */
  resend(nc: NatsConnection): number;
  /**
   * Forgets the acks at or below the consumer's ack `floor`; true when the floor did not move
   * since the last call while acks sent once are still remembered (they were likely lost).
   */
  floorIs(floor: number, ackPending: number): boolean;
}

/** Creates an empty {@link Reacks}. */
export function createReacks(): Reacks {
  /** Stream seq → ack subject and times it was sent again. */
  const unconfirmed = new Map<number, { reply: string; reacks: number }>();
  let lastFloor = -1;
  return {
    remember(msg) {
      const reply = ackSubject(msg);
      if (!reply) return;
      unconfirmed.delete(msg.seq); // re-inserted last: a redelivery refreshes its place
      unconfirmed.set(msg.seq, { reply, reacks: 0 });
      if (unconfirmed.size > MAX_REMEMBERED) {
        unconfirmed.delete(unconfirmed.keys().next().value!);
      }
    },
    resend(nc) {
      let n = 0;
      for (const [seq, entry] of unconfirmed) {
        reack(nc, entry.reply);
        n++;
        if (++entry.reacks >= MAX_REACKS) unconfirmed.delete(seq);
      }
      return n;
    },
    floorIs(floor, ackPending) {
      for (const seq of unconfirmed.keys()) if (seq <= floor) unconfirmed.delete(seq);
      const stuck = floor === lastFloor && ackPending > 0;
      lastFloor = floor;
      return stuck && [...unconfirmed.values()].some((e) => e.reacks === 0);
    },
  };
}
