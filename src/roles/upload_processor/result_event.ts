/**
 * The result event of a success, published to `publish_result` under the `Nats-Msg-Id`
 * `<event_id>:result`: a redelivery of a `done` event publishes the same result again and the
 * result stream stores it once within its duplicate window. Its PubAck is awaited before the ack
 * (see `outcome.ts`), but never past the grace deadline.
 * @module
 */
import type { Publisher } from "../../nats/publisher.ts";
import { retryable, UploadFailure } from "./failure.ts";

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

/** Where and how result events are published. */
export interface ResultTarget {
  /** Publishes them. */
  publisher: Publisher;
  /** The `publish_result` subject; undefined: results are off. */
  subject: string | undefined;
  /** Fires at the grace deadline: a result publish still waiting is given up (redelivered). */
  abort: AbortSignal;
}

/** Resolves when `p` does, rejects with a `shutdown` failure when `signal` fires first. */
function unlessAborted<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(retryable("shutdown", "stopped before the result"));
  let onAbort = () => {};
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(retryable("shutdown", "stopped before the result was stored"));
    signal.addEventListener("abort", onAbort, { once: true });
  });
  return Promise.race([p, aborted]).finally(() => signal.removeEventListener("abort", onAbort));
}

/**
 * Publishes `result` (when results are on and there is one) and awaits its PubAck. Resolves with
 * the (retryable) failure when it was not stored, with undefined otherwise.
 */
export async function publishResult(
  target: ResultTarget,
  eventId: string,
  result: unknown,
): Promise<UploadFailure | undefined> {
  if (!target.subject || result === undefined) return undefined;
  const published = target.publisher.publish({
    subject: target.subject,
    data: JSON.stringify(result),
    msgId: `${eventId}:result`,
  });
  try {
    await unlessAborted(published, target.abort);
    return undefined;
  } catch (err) {
    published.catch(() => {/* given up on above */});
    return err instanceof UploadFailure ? err : retryable(
      "result_unpublished",
      `result event for ${eventId} not stored on ${target.subject}: ` + (err as Error).message,
    );
  }
}
