/**
 * The one error type of the upload pipeline: every step that can fail throws an
 * {@link UploadFailure} saying whether trying again later can help, and why (a short reason code
 * for metrics and the DLQ, plus a message for people).
 * @module
 */

/** `retry`: nak with backoff (S3 down, handler said "later"); `permanent`: DLQ + term. */
export type FailureKind = "retry" | "permanent";

/**
 * Reason codes, used as the `reason` metric label and at the start of the DLQ reason:
 * - `invalid_event`: the message is not an upload event (bad JSON, a required field missing or
 *   malformed).
 * - `unsafe_path`: a key or filename would escape `download_dir`.
 * - `object_missing`: the data or metadata object (or its bucket) does not exist.
 * - `invalid_metadata`: the envelope metadata is not the producer's format.
 * - `decrypt_failed`: wrong master key, or the object was tampered with or truncated.
 * - `s3_error`: S3 answered with an error other than "not found" (or did not answer).
 * - `handler_failed`, `handler_timeout`: the handler said no, or ran out of time.
 * - `shutdown`: the daemon stopped before the work finished.
 * - `result_unpublished`: the handler ran but its result event was not stored (the result stream
 *   refused it or did not answer); the message is not acked, so its redelivery publishes the
 *   result again.
 * - `internal`: anything unexpected (a bug, a full disk, ...); retried.
 */
export type FailureReason =
  | "invalid_event"
  | "unsafe_path"
  | "object_missing"
  | "invalid_metadata"
  | "decrypt_failed"
  | "s3_error"
  | "handler_failed"
  | "handler_timeout"
  | "shutdown"
  | "result_unpublished"
  | "internal";

/**
 * The dependency a failure says is down (unreachable, refusing connections, answering 5xx): such
 * failures say nothing about the event, so they feed the circuit breaker (`breaker.ts`).
 */
export type Dependency = "s3" | "handler";

/** A failure of one upload event's processing. */
export class UploadFailure extends Error {
  /** Whether a later attempt can succeed. */
  readonly kind: FailureKind;
  /** Short reason code. */
  readonly reason: FailureReason;
  /** Set when the failure is a dependency being down rather than anything about the event. */
  readonly outage?: Dependency;

  /** Creates the failure; `message` says what happened (and, where useful, what to do). */
  constructor(kind: FailureKind, reason: FailureReason, message: string, outage?: Dependency) {
    super(message);
    this.name = "UploadFailure";
    this.kind = kind;
    this.reason = reason;
    this.outage = outage;
  }
}

/** A failure that will not go away by retrying. */
export function permanent(reason: FailureReason, message: string): UploadFailure {
  return new UploadFailure("permanent", reason, message);
}

/** A failure that may go away later; `outage` names the dependency that seems down. */
export function retryable(
  reason: FailureReason,
  message: string,
  outage?: Dependency,
): UploadFailure {
  return new UploadFailure("retry", reason, message, outage);
}

/** Any thrown value as an {@link UploadFailure}; unknown errors are retryable `internal`. */
export function asFailure(err: unknown): UploadFailure {
  if (err instanceof UploadFailure) return err;
  return retryable("internal", err instanceof Error ? err.message : String(err));
}
