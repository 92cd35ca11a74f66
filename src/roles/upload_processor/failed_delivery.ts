/**
 * How a failed delivery ends: naked for a retry with backoff, or (permanent, retries used up)
 * recorded `dead`, dead-lettered and terminated. The `dead` record goes before the DLQ entry and
 * is final in the dedupe bucket, so a later delivery of the same message repeats the entry (same
 * id, stored once) instead of running the handler again.
 * @module
 */
import type { Logger } from "@logtape/logtape";
import { nakAfter, retryDelay } from "../../nats/ack.ts";
import { deadLetterOrTerminate } from "../../nats/dead_letter_or_terminate.ts";
import type { DlqTarget } from "../../nats/dlq.ts";
import type { Publisher } from "../../nats/publisher.ts";
import { attempts } from "./acks.ts";
import type { UploadProcessorConfig } from "./config.ts";
import type { Claim } from "./dedupe.ts";
import type { UploadFailure } from "./failure.ts";
import type { UploadMetrics } from "./metrics.ts";
import type { PulledMsg } from "./pulled.ts";

/** What the failure paths need from the running role. */
export interface FailureDeps {
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
  /** Deliveries after which a retryable failure is dead-lettered; -1: never. */
  maxDeliveries: number;
}

/** Naks `msg` for a retry after the backoff (at once when `immediately`), counted and logged. */
function retryLater(
  deps: FailureDeps,
  msg: PulledMsg,
  reason: string,
  error: string,
  immediately = false,
) {
  const { cfg, log, metrics } = deps;
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

/** Dead-letters and terms `msg` with `reason` (recorded `dead` earlier), then counts it. */
export async function deadLetterAndTerm(
  deps: FailureDeps,
  msg: PulledMsg,
  reason: string,
): Promise<void> {
  const { cfg, log, metrics, dlq } = deps;
  const outcome = await deadLetterOrTerminate(msg, reason, {
    dlq: dlq && { publisher: deps.publisher, target: dlq },
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

/** Naks for a retry, or (permanent, retries used up) records `dead`, dead-letters, terms. */
export async function fail(
  deps: FailureDeps,
  msg: PulledMsg,
  failure: UploadFailure,
  claim?: Claim,
): Promise<void> {
  const deliveries = msg.info.deliveryCount;
  const exhausted = failure.kind === "retry" && failure.reason !== "shutdown" &&
    deps.maxDeliveries > 0 && deliveries >= deps.maxDeliveries;
  if (failure.kind === "retry" && !exhausted) {
    await claim?.release();
    // Work cut short by shutdown goes back at once so another instance can take it.
    retryLater(deps, msg, failure.reason, failure.message, failure.reason === "shutdown");
    return;
  }
  const reason = `${failure.reason}: ${failure.message}` +
    (exhausted ? ` (gave up after ${deliveries} deliveries)` : "");
  if (claim) {
    try {
      await attempts(() => claim.dead(msg.info.streamSequence, reason));
    } catch (err) {
      // Not recorded: no DLQ entry either, or a later delivery could still succeed after it.
      retryLater(deps, msg, "dedupe_unavailable", `recording dead: ${(err as Error).message}`);
      return;
    }
  }
  await deadLetterAndTerm(deps, msg, reason);
}
