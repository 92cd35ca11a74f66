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
 * never stored after a newer one.
 * @module
 */
import type { Logger } from "@logtape/logtape";
import { nakAfter, retryDelay } from "../../nats/ack.ts";
import { delay } from "../../platform/delay.ts";
import { deadLetterOrTerminate } from "../../nats/dead_letter_or_terminate.ts";
import type { DlqTarget } from "../../nats/dlq.ts";
import type { Publisher } from "../../nats/publisher.ts";
import type { UploadProcessorConfig } from "./config.ts";
import type { Claim } from "./dedupe.ts";
import type { UploadEvent } from "./event.ts";
import { retryable, UploadFailure } from "./failure.ts";
import type { UploadMetrics } from "./metrics.ts";
import type { PulledMsg } from "./pulled.ts";

/** The result event published to `publish_result` after a success. */
export interface ResultEvent {
  /** The upload event's id. */
  event_id: string;
  /** The uploaded file's id. */
  file_uuid: string;
  /** Always `processed` (failures go to the DLQ). */
  status: "processed";
  /** Download + handler time. */
  duration_ms: number;
  /** Where the output is: reported by the handler, else the kept local file. */
  output_path?: string;
}

/** Pause between tries of the `done` record (see `recordDone`). */
const DONE_RETRY_MS = 250;

/** How often an unconfirmed ack (or a dedupe write) is tried before the role gives up on it. */
export const ACK_ATTEMPTS = 4;

/** Runs `fn` up to {@link ACK_ATTEMPTS} times until it resolves; rejects with the last error. */
export async function attempts<T>(fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1;; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt >= ACK_ATTEMPTS) throw err;
    }
  }
}

/** What the outcomes need from the running role. */
export interface OutcomeDeps {
  /** The role's section. */
  cfg: UploadProcessorConfig;
  /** Logger. */
  log: Logger;
  /** Metrics. */
  metrics: UploadMetrics;
  /** Publishes results and dead letters. */
  publisher: Publisher;
  /** Where dead letters go; undefined: terminate with a logged reason. */
  dlq: DlqTarget | undefined;
  /** The connected server's version (term reasons). */
  serverVersion(): string | undefined;
  /** How long one ack waits for its confirmation. */
  ackTimeoutMs: number;
  /** Deliveries after which a retryable failure is dead-lettered; -1: never. */
  maxDeliveries: number;
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
  const { cfg, log, metrics, publisher, dlq } = deps;
  const unconfirmed = new Set<Promise<void>>();

  async function ack(msg: PulledMsg) {
    // While a consumer leader is being elected the confirmation does not come: the ack is sent
    // again (acking twice is harmless) rather than left to `ack_wait` and a redelivery.
    await attempts(() => msg.ackAck(deps.ackTimeoutMs)).catch((err) => {
      log.warn("ack of {stream}/{seq} not confirmed after {n} attempts: {error}", {
        stream: cfg.stream,
        seq: msg.info.streamSequence,
        n: ACK_ATTEMPTS,
        error: (err as Error).message,
      });
    });
  }

  function retryLater(msg: PulledMsg, reason: string, error: string, immediately = false) {
    const deliveries = msg.info.deliveryCount;
    const delay = immediately ? 0 : retryDelay(cfg.retry.backoff, deliveries);
    nakAfter(msg, delay);
    metrics.retried.inc({ reason });
    log.warn("{stream}/{seq} will be retried in {delay} ms (delivery {n}): {reason}: {error}", {
      stream: cfg.stream,
      seq: msg.info.streamSequence,
      delay,
      n: deliveries,
      reason,
      error,
    });
  }

  async function deadLetterAndTerm(msg: PulledMsg, reason: string) {
    const outcome = await deadLetterOrTerminate(msg, reason, {
      dlq: dlq && { publisher, target: dlq },
      retryDelay: retryDelay(cfg.retry.backoff, msg.info.deliveryCount),
      serverVersion: deps.serverVersion(),
    });
    if (outcome.kind === "retry") {
      // Naked: the next delivery sees the `dead` record and sends the same entry again (same
      // id, stored once).
      metrics.retried.inc({ reason: "dlq_unavailable" });
      log.error(
        "{stream}/{seq} failed ({reason}) but the DLQ {dlq} did not take it: {error}; " +
          "retrying in {delay} ms",
        {
          stream: cfg.stream,
          seq: msg.seq,
          reason,
          dlq: dlq?.stream,
          error: outcome.error.message,
          delay: outcome.delay,
        },
      );
      return;
    }
    metrics.failed.inc({ reason: reason.split(":")[0] });
    log.error("{stream}/{seq} failed for good and was terminated ({where}): {reason}", {
      stream: cfg.stream,
      seq: msg.seq,
      where: dlq ? `copied to DLQ ${dlq.stream}` : "no DLQ configured",
      reason,
    });
  }

  /** Resolves when `p` does, rejects with a `shutdown` failure when `abort` fires first. */
  function unlessAborted<T>(p: Promise<T>): Promise<T> {
    const signal = deps.abort;
    if (signal.aborted) return Promise.reject(retryable("shutdown", "stopped before the result"));
    let onAbort = () => {};
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(retryable("shutdown", "stopped before the result was stored"));
      signal.addEventListener("abort", onAbort, { once: true });
    });
    return Promise.race([p, aborted]).finally(() => signal.removeEventListener("abort", onAbort));
  }

  /**
   * Publishes `result` (when results are on and there is one) and awaits its PubAck, then acks.
   * A result not stored leaves the message unacked (naked for a retry) and returns false.
   */
  async function publishThenAck(msg: PulledMsg, eventId: string, result: unknown) {
    if (cfg.publish_result && result !== undefined) {
      const published = publisher.publish({
        subject: cfg.publish_result,
        data: JSON.stringify(result),
        msgId: `${eventId}:result`,
      });
      try {
        await unlessAborted(published);
      } catch (err) {
        published.catch(() => {/* given up on above */});
        const failure = err instanceof UploadFailure ? err : retryable(
          "result_unpublished",
          `result event for ${eventId} not stored on ${cfg.publish_result}: ` +
            (err as Error).message,
        );
        await fail(msg, failure);
        return false;
      }
    }
    // The worker is free once the ack is sent; its confirmation (and re-sends) go on behind it.
    // Nothing depends on it: an ack lost after all is a redelivery that finds `done`.
    const confirming = ack(msg).finally(() => unconfirmed.delete(confirming));
    unconfirmed.add(confirming);
    return true;
  }

  async function fail(msg: PulledMsg, failure: UploadFailure, claim?: Claim) {
    const deliveries = msg.info.deliveryCount;
    const exhausted = failure.kind === "retry" && failure.reason !== "shutdown" &&
      deps.maxDeliveries > 0 && deliveries >= deps.maxDeliveries;
    if (failure.kind === "retry" && !exhausted) {
      await claim?.release();
      // Work cut short by shutdown goes back at once so another instance can take it.
      retryLater(msg, failure.reason, failure.message, failure.reason === "shutdown");
      return;
    }
    const reason = `${failure.reason}: ${failure.message}` +
      (exhausted ? ` (gave up after ${deliveries} deliveries)` : "");
    if (claim) {
      try {
        await attempts(() => claim.dead(msg.info.streamSequence, reason));
      } catch (err) {
        // Not recorded: no DLQ entry either, or a later delivery could still succeed after it.
        retryLater(msg, "dedupe_unavailable", `recording dead: ${(err as Error).message}`);
        return;
      }
    }
    await deadLetterAndTerm(msg, reason);
  }

  /**
   * Writes `done` until it lands (or the grace deadline): the handler has run, and a delivery
   * that finds no `done` runs it again once the claim lapses. A bucket leader election refuses
   * writes at once ("jetstream is not enabled") for seconds, longer than a claim may live, and
   * the ack is often lost in the same election: a few quick tries were not enough. Meanwhile the
   * worker's heartbeat keeps the message and the claim alive.
   */
  async function recordDone(eventId: string, claim: Claim, result: unknown) {
    for (let failures = 0;; failures++) {
      try {
        return await claim.done(result);
      } catch (err) {
        if (deps.abort.aborted) throw err;
        if (failures === 0) {
          log.warn("recording {event_id} in {bucket} failed ({error}); retrying until it lands", {
            event_id: eventId,
            bucket: cfg.dedupe_bucket,
            error: (err as Error).message,
          });
        }
        await delay(DONE_RETRY_MS, deps.abort);
        if (deps.abort.aborted) throw err;
      }
    }
  }

  return {
    confirmed: async () => void await Promise.allSettled([...unconfirmed]),
    deadLetterAndTerm,
    fail,
    repeat: publishThenAck,
    async succeed(msg, event, claim, result) {
      try {
        await recordDone(event.event_id, claim, result);
      } catch (err) {
        // Only at the grace deadline. The result publish below is then given up as well, so the
        // message goes back: a second handler run beats a lost result.
        log.warn("could not record {event_id} in {bucket}: {error}", {
          event_id: event.event_id,
          bucket: cfg.dedupe_bucket,
          error: (err as Error).message,
        });
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
