/**
 * The one way a role gives up on a message it received: copy it to the DLQ, and only after the
 * DLQ acked the copy `term` it (under workqueue or interest retention `term` deletes the
 * original). When the DLQ does not take the copy the message is naked for a later try instead of
 * terminated, so a message is never lost; with no DLQ configured it is terminated (the caller
 * logs why). Every role that rejects messages (monitor, upload_processor) calls this, so the
 * order "stored, then terminated" is written once.
 * @module
 */
import type { JsMsg } from "@nats-io/jetstream";
import { deadLetter, type DlqPublisher, type DlqTarget } from "./dlq.ts";
import type { PubAck } from "./publisher.ts";
import { nakAfter, terminate } from "./ack.ts";

/** Where a role's dead letters go: the DLQ and what publishes into it. */
export interface DeadLetterDestination {
  /** Publishes the copy (jetport's Publisher, or a JetStreamClient). */
  publisher: DlqPublisher;
  /** The DLQ stream and subject prefix. */
  target: DlqTarget;
}

/** What {@link deadLetterOrTerminate} did with the message. */
export type DeadLetterOutcome =
  /** Copied to the DLQ (`ack` is the DLQ's PubAck), then terminated. */
  | { kind: "dead_lettered"; ack: PubAck }
  /** No DLQ configured: terminated without a copy. */
  | { kind: "terminated" }
  /** The DLQ did not take the copy: naked for redelivery after `delay` ms, not terminated. */
  | { kind: "retry"; error: Error; delay: number };

/**
 * The parts of a delivered message {@link deadLetterOrTerminate} uses: a nats.js `JsMsg`, or a
 * role's own delivery type (the upload processor's pulled messages).
 */
export type DeadLetterable =
  & Pick<JsMsg, "subject" | "data" | "headers" | "seq" | "nak" | "term">
  & { info: Pick<JsMsg["info"], "stream" | "consumer" | "deliveryCount"> };

/** How {@link deadLetterOrTerminate} acts. */
export interface DeadLetterOrTerminateOptions {
  /** The DLQ, or undefined when none is configured (the message is only terminated). */
  dlq: DeadLetterDestination | undefined;
  /** Redelivery delay (ms) when the DLQ does not take the copy. */
  retryDelay: number;
  /** The server's version: a term reason is sent only where the server honours it. */
  serverVersion: string | undefined;
}

/**
 * Gives up on `msg` for `reason`: stores it in the DLQ (payload and headers byte for byte, with
 * provenance from `msg.info`), then terminates it. Never throws for a DLQ failure: the outcome
 * says what happened, and the caller logs it.
 */
export async function deadLetterOrTerminate(
  msg: DeadLetterable,
  reason: string,
  options: DeadLetterOrTerminateOptions,
): Promise<DeadLetterOutcome> {
  const { dlq, retryDelay, serverVersion } = options;
  let ack: PubAck | undefined;
  if (dlq) {
    try {
      ack = await deadLetter(dlq.publisher, dlq.target, {
        stream: msg.info.stream,
        consumer: msg.info.consumer,
        subject: msg.subject,
        seq: msg.seq,
        deliveries: msg.info.deliveryCount,
        reason,
        data: msg.data,
        headers: msg.headers,
      });
    } catch (err) {
      nakAfter(msg, retryDelay);
      return { kind: "retry", error: err as Error, delay: retryDelay };
    }
  }
  terminate(msg, reason, serverVersion);
  return ack ? { kind: "dead_lettered", ack } : { kind: "terminated" };
}
