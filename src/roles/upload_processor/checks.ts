/**
 * Advice on the upload_processor section that `validate` prints without failing: retries without
 * any bound (`retry.max_deliveries: -1` on a consumer whose `max_deliver` is -1 too) mean an
 * upload that keeps failing with a retryable error never reaches the DLQ. Outages do not need
 * unlimited retries: the circuit breaker holds events while S3 or the handler is down.
 * @module
 */
import type { CheckProblem } from "../../config/checks.ts";
import type { Config } from "../schemas.ts";

/** Advice for `roles.upload_processor` (empty when the section is off or bounded). */
export function uploadAdvice(config: Config): CheckProblem[] {
  const up = config.roles.upload_processor;
  if (!up || !up.enabled || up.retry.max_deliveries !== -1) return [];
  const declared = config.roles.stream_provisioner?.consumers.find((c) =>
    c.stream === up.stream && c.name === up.consumer
  );
  if ((declared?.max_deliver ?? -1) > 0) return [];
  const dlq = config.roles.dlq_redriver;
  const where = dlq && dlq.enabled ? `DLQ (stream ${dlq.dlq_stream})` : "DLQ";
  return [{
    path: ["roles", "upload_processor", "retry", "max_deliveries"],
    message: `-1 and consumer ${up.stream}/${up.consumer} has no max_deliver either: an upload ` +
      "that keeps failing with a retryable error (S3 403, handler exit 75) is retried for ever " +
      `and never reaches the ${where}; set a bound (the default is 10): outages are covered by ` +
      "circuit_breaker, not by unlimited retries",
  }];
}
