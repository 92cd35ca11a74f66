/**
 * Riding out a JetStream cluster's leader changes in a consuming role (docs/nats-notes.md
 * "Clusters"). When the node leading a stream or consumer dies, API requests time out or find no
 * responder for the seconds an election takes (6-8 s on nats-server 2.9), pull requests waiting
 * on the old consumer leader are gone (the new leader does not know them: only heartbeats going
 * missing tell the client), and acks sent to the old leader in its last moments may never reach
 * the new one, which then redelivers those messages only after `ack_wait`. The pieces here let a
 * role tell a transient error from a real one, pull again as soon as a new consumer leader is
 * elected, and make an ack stick.
 * @module
 */
import { errors, type NatsConnection } from "@nats-io/nats-core";
import { JetStreamApiError, type JsMsg } from "@nats-io/jetstream";
import { delay } from "../platform/delay.ts";

/**
 * Messages of answers that mean "no leader right now" on every version; nats.js reports a
 * JetStream API request that nobody answered as "jetstream is not enabled".
 */
const TRANSIENT_TEXT =
  /time(d)? ?out|no responders|temporarily unavailable|not ready|leader|quorum|heartbeats missed|disconnect|no suitable peers|jetstream is not enabled/i;

/**
 * True when `err` is what a cluster answers while it elects a leader or a node restarts (a
 * timeout, no responders, 503 "JetStream system temporarily unavailable", a dropped connection):
 * the same request may succeed a few seconds later, so it is retried, not treated as fatal.
 */
export function isTransient(err: unknown): boolean {
  if (
    err instanceof errors.ClosedConnectionError || err instanceof errors.DrainingConnectionError
  ) return false;
  if (
    err instanceof errors.TimeoutError || err instanceof errors.NoRespondersError ||
    err instanceof errors.RequestError || err instanceof errors.ConnectionError
  ) return true;
  if (err instanceof JetStreamApiError) {
    return err.status === 503 || err.status === 408 || TRANSIENT_TEXT.test(err.message);
  }
  // A pull's status error (JetStreamStatusError, not exported) carries the status as `code`.
  const code = (err as { code?: unknown } | undefined)?.code;
  if (code === 503 || code === 408) return true;
  return err instanceof Error && TRANSIENT_TEXT.test(err.message);
}

/**
 * The ack subject of `msg`: nats.js keeps it as `reply`, outside the `JsMsg` interface. Undefined
 * when it is not there (then an ack cannot be sent again).
 */
export function ackSubject(msg: JsMsg): string | undefined {
  const reply = (msg as JsMsg & { reply?: unknown }).reply;
  return typeof reply === "string" && reply !== "" ? reply : undefined;
}

/** Subject of the advisory a consumer's newly elected leader sends. */
export function leaderElectedSubject(stream: string, consumer: string): string {
  return `$JS.EVENT.ADVISORY.CONSUMER.LEADER_ELECTED.${stream}.${consumer}`;
}

/**
 * Calls `onElected` whenever consumer `stream/consumer` gets a new leader (only replicated
 * consumers have elections). Pull requests waiting on the old leader are lost, so the caller
 * pulls again at once instead of waiting for two missed heartbeats. Returns the unsubscribe
 * function. Without permission to subscribe to advisories nothing is called, and missed
 * heartbeats remain the signal.
 */
export function onLeaderElected(
  nc: NatsConnection,
  stream: string,
  consumer: string,
  onElected: () => void,
): () => void {
  const sub = nc.subscribe(leaderElectedSubject(stream, consumer), {
    callback: (err) => {
      if (!err) onElected();
    },
  });
  return () => sub.unsubscribe();
}

/** Options of {@link ackConfirmed}. */
export interface AckOptions {
  /** How long one attempt waits for the server's confirmation (ms). */
  timeout?: number;
  /** Attempts before giving up (the message is then redelivered after `ack_wait`). */
  attempts?: number;
  /** Pause between attempts (ms); an election takes a few seconds. */
  pause?: number;
  /** Stops retrying (shutdown). */
  signal?: AbortSignal;
}

const ACK = new TextEncoder().encode("+ACK");

/**
 * Acks `msg` and waits until the consumer's leader confirmed it, retrying through an election:
 * an ack that reached a leader that died before replicating it would otherwise leave the message
 * unacked until `ack_wait` and have it delivered again. Resolves true once confirmed, false when
 * every attempt failed or `signal` aborted. For low-rate consumers: one round trip per message.
 */
export async function ackConfirmed(
  nc: NatsConnection,
  msg: JsMsg,
  options: AckOptions = {},
): Promise<boolean> {
  const { timeout = 2000, attempts = 10, pause = 1000, signal } = options;
  const subject = ackSubject(msg);
  if (!subject) {
    msg.ack();
    return false;
  }
  for (let i = 0; i < attempts && !signal?.aborted; i++) {
    try {
      await nc.request(subject, ACK, { timeout });
      return true;
    } catch (err) {
      if (!isTransient(err)) return false;
      await delay(pause, signal);
    }
  }
  return false;
}
