/**
 * What the role derives from its consumer as found on the server: how often to heartbeat, how long
 * an ack or a claim may take, how many workers, how many deliveries. The consumer may be declared
 * elsewhere (the provisioner, the upload service), so these follow it rather than the config alone.
 * @module
 */
import type { ConsumerInfo } from "@nats-io/jetstream";
import type { Logger } from "@logtape/logtape";
import type { UploadProcessorConfig } from "./config.ts";
import { ACK_ATTEMPTS } from "./acks.ts";

/** The role's working limits. */
export interface Limits {
  /** Workers: `concurrency`, but never more than the consumer's `max_ack_pending`. */
  workers: number;
  /**
   * Successes that may finish (`done`, result, ack) behind the workers: as many as there are
   * workers, within what `max_ack_pending` leaves (`finishing.ts`).
   */
  finishing: number;
  /** `working()` heartbeat and claim refresh interval: a third of `ack_wait`. */
  heartbeatMs: number;
  /** How long one ack waits for its confirmation: all attempts fit in `ack_wait`. */
  ackTimeoutMs: number;
  /** How long an unrefreshed claim lives: about when the server would redeliver. */
  claimTtlMs: number;
  /** `retry.max_deliveries`, lowered to the consumer's `max_deliver`; -1: no bound. */
  maxDeliveries: number;
}

/** The limits for `cfg` on the consumer `info`; warns where the two disagree. */
export function limitsFor(cfg: UploadProcessorConfig, info: ConsumerInfo, log: Logger): Limits {
  const ackWaitMs = (info.config.ack_wait ?? 30e9) / 1e6;
  const heartbeatMs = Math.max(100, ackWaitMs / 3);
  const maxAckPending = info.config.max_ack_pending ?? -1;
  let workers = cfg.concurrency;
  if (maxAckPending > 0 && maxAckPending < cfg.concurrency) {
    log.warn("concurrency {c} is above the consumer's max_ack_pending {m}; using {m} workers", {
      c: cfg.concurrency,
      m: maxAckPending,
    });
    workers = maxAckPending;
  }
  const own = cfg.retry.max_deliveries;
  const maxDeliver = info.config.max_deliver ?? -1;
  let maxDeliveries = own;
  if (maxDeliver > 0) maxDeliveries = own > 0 ? Math.min(own, maxDeliver) : maxDeliver;
  else if (own < 0) {
    log.warn(
      "retry.max_deliveries is -1 and consumer {stream}/{consumer} has no max_deliver: an " +
        "event that keeps failing with a retryable error is retried for ever, never dead-lettered",
      { stream: cfg.stream, consumer: cfg.consumer },
    );
  }
  const finishing = maxAckPending > 0 ? Math.min(workers, maxAckPending - workers) : workers;
  return {
    workers,
    finishing,
    heartbeatMs,
    ackTimeoutMs: Math.max(200, Math.min(5000, heartbeatMs * 3 / ACK_ATTEMPTS)),
    claimTtlMs: Math.max(3000, ackWaitMs),
    maxDeliveries,
  };
}
