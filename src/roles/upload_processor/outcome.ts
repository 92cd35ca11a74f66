/**
 * How one delivery ends: acked after success, naked for a retry with backoff, or dead-lettered
 * and terminated, and in which order the traces of each are written. After a success: the `done`
 * record (holding the result event) first, then the result event, its PubAck awaited, then the
 * ack. A crash anywhere in between loses nothing: the redelivery finds `done` and publishes the
 * same result with the same `Nats-Msg-Id` (`<event_id>:result`), which the result stream stores
 * once within its duplicate window, then acks. Acking first (as before) lost the result when the
 * process died between the ack and the publish. The `done` record goes before the result, not
 * after or beside it: a result stored without `done` could be followed by a re-run of the handler
 * that fails and puts a DLQ entry after the result. `done` is recorded before the result, `dead`
 * before the DLQ entry, and both are final in the dedupe bucket (`dedupe.ts`), so a later delivery
 * of the same message repeats the same outcome instead of producing another: an older state is
 * never stored after a newer one. This file puts the steps in that order; the steps are in
 * `done_record.ts`, `result_event.ts`, `acks.ts`, and (retry and dead letter) `failed_delivery.ts`.
 * @module
 */
import { createAcks } from "./acks.ts";
import type { Claim } from "./dedupe.ts";
import { recordDone } from "./done_record.ts";
import type { UploadEvent } from "./event.ts";
import { deadLetterAndTerm, fail, type FailureDeps } from "./failed_delivery.ts";
import { retryable, type UploadFailure } from "./failure.ts";
import type { PulledMsg } from "./pulled.ts";
import { publishResult, type ResultEvent } from "./result_event.ts";

/** What the outcomes need from the running role: what the failure paths need, and more. */
export interface OutcomeDeps extends FailureDeps {
  /** How long one ack waits for its confirmation. */
  ackTimeoutMs: number;
  /** Fires at the grace deadline: a result publish still waiting is given up (redelivered). */
  abort: AbortSignal;
}

/** The three ways a delivery ends. */
export interface Outcomes {
  /** Resolves once every ack sent so far is confirmed or given up on (for the role's stop). */
  confirmed(): Promise<void>;
  /**
   * Records `done` (with the result), publishes the result event and awaits it, then acks.
   * False when not acked (the result was not stored: given back for a retry).
   */
  succeed(msg: PulledMsg, event: UploadEvent, claim: Claim, result: ResultEvent): Promise<boolean>;
  /**
   * A delivery of an event already `done`: publishes its recorded result again (the stream
   * drops it as a duplicate if it was stored), then acks. False when not acked (given back).
   */
  repeat(msg: PulledMsg, eventId: string, result: unknown): Promise<boolean>;
  /** Naks for a retry, or (permanent, retries used up) records `dead`, dead-letters, terms. */
  fail(msg: PulledMsg, failure: UploadFailure, claim?: Claim): Promise<void>;
  /** Dead-letters and terms `msg` with `reason` (recorded `dead` earlier), then counts it. */
  deadLetterAndTerm(msg: PulledMsg, reason: string): Promise<void>;
}

/** Creates the outcomes of a running role. */
export function createOutcomes(deps: OutcomeDeps): Outcomes {
  const { cfg, log, metrics } = deps;
  const acks = createAcks(log, cfg.stream, deps.ackTimeoutMs);
  const results = { publisher: deps.publisher, subject: cfg.publish_result, abort: deps.abort };
  const records = { log, bucket: cfg.dedupe_bucket, abort: deps.abort };

  /**
   * Publishes `result` (when results are on and there is one) and awaits its PubAck, then acks.
   * A result not stored leaves the message unacked (naked for a retry) and returns false.
   */
  async function publishThenAck(msg: PulledMsg, eventId: string, result: unknown) {
    const failure = await publishResult(results, eventId, result);
    if (failure) {
      await fail(deps, msg, failure);
      return false;
    }
    acks.send(msg);
    return true;
  }

  return {
    confirmed: acks.confirmed,
    deadLetterAndTerm: (msg, reason) => deadLetterAndTerm(deps, msg, reason),
    fail: (msg, failure, claim) => fail(deps, msg, failure, claim),
    repeat: publishThenAck,
    async succeed(msg, event, claim, result) {
      try {
        await recordDone(records, event.event_id, claim, result);
      } catch (err) {
        // Only at the grace deadline. The message goes back unacked (also when results are off):
        // a second handler run beats a lost result.
        log.warn("could not record {event_id} in {bucket}: {error}", {
          event_id: event.event_id,
          bucket: cfg.dedupe_bucket,
          error: (err as Error).message,
        });
        await fail(deps, msg, retryable("shutdown", "stopped before done was recorded"));
        return false;
      }
      if (!await publishThenAck(msg, event.event_id, result)) return false;
      metrics.processed.inc();
      log.info("processed {event_id} ({stream}/{seq}) in {ms} ms", {
        event_id: event.event_id,
        stream: cfg.stream,
        seq: msg.info.streamSequence,
        ms: result.duration_ms,
      });
      return true;
    },
  };
}
