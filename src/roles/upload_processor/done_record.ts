/**
 * The `done` record of a success in the dedupe bucket: written until it lands rather than a few
 * times, because a missing `done` costs a second run of the handler.
 * @module
 */
import type { Logger } from "@logtape/logtape";
import { delay } from "../../platform/delay.ts";
import type { Claim } from "./dedupe.ts";

/** Pause between tries of the `done` record (see {@link recordDone}). */
const DONE_RETRY_MS = 250;

/** What {@link recordDone} needs from the running role. */
export interface DoneRecordDeps {
  /** Logger. */
  log: Logger;
  /** The dedupe bucket's name (for the log). */
  bucket: string;
  /** Fires at the grace deadline: the record is given up. */
  abort: AbortSignal;
}

/**
 * Writes `done` until it lands (or the grace deadline): the handler has run, and a delivery
 * that finds no `done` runs it again once the claim lapses. A bucket leader election refuses
 * writes at once ("jetstream is not enabled") for seconds, longer than a claim may live, and
 * the ack is often lost in the same election: a few quick tries were not enough. Meanwhile the
 * worker's heartbeat keeps the message and the claim alive. Rejects only once `abort` fired.
 */
export async function recordDone(
  deps: DoneRecordDeps,
  eventId: string,
  claim: Claim,
  result: unknown,
): Promise<void> {
  for (let failures = 0;; failures++) {
    try {
      return await claim.done(result);
    } catch (err) {
      if (deps.abort.aborted) throw err;
      if (failures === 0) {
        deps.log.warn(
          "recording {event_id} in {bucket} failed ({error}); retrying until it lands",
          { event_id: eventId, bucket: deps.bucket, error: (err as Error).message },
        );
      }
      await delay(DONE_RETRY_MS, deps.abort);
      if (deps.abort.aborted) throw err;
    }
  }
}
