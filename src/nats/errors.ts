/**
 * How jetport tells the server's and the client's errors apart, in one place, built on nats.js's
 * typed `JetStreamApiError` and its API codes (its `StreamNotFoundError`/`ConsumerNotFoundError`
 * subclasses carry the same codes but are exported only from `@nats-io/jetstream/internal`),
 * never on message text, so "consumer not found" is never read as "stream not found".
 * Transient errors (a cluster electing a leader, a node restarting) are told apart in
 * `leader_change.ts` ({@link isTransient} is re-exported here so callers import one module).
 * @module
 */
import { JetStreamApiCodes, JetStreamApiError } from "@nats-io/jetstream";
import { PublishError } from "./publish_error.ts";

export { isTransient } from "./leader_change.ts";

/**
 * True when `err` is the JetStream API error with this `code` (see `JetStreamApiCodes`): from
 * nats.js, or a stream's refusal of a message sent by jetport's publisher.
 */
export function isApiError(err: unknown, code: number): boolean {
  if (err instanceof PublishError) return err.code === "stream_error" && err.apiCode === code;
  return err instanceof JetStreamApiError && err.code === code;
}

/** The server answered "stream not found" (JetStream error 10059). */
export function isStreamNotFound(err: unknown): boolean {
  return isApiError(err, JetStreamApiCodes.StreamNotFound);
}

/** The server answered "consumer not found" (JetStream error 10014). */
export function isConsumerNotFound(err: unknown): boolean {
  return isApiError(err, JetStreamApiCodes.ConsumerNotFound);
}

/** The server answered "no message found" (JetStream error 10037), e.g. a direct get of a gap. */
export function isNoMessageFound(err: unknown): boolean {
  return isApiError(err, JetStreamApiCodes.NoMessageFound);
}
