/**
 * Requests whose replies all come to ONE wildcard inbox subscription, timed out by one sweeper.
 *
 * Why not nats.js `request()`: each call starts its own timer and, when it ends (answered or
 * not), builds a "cancelled" `RequestError` with a stack trace that nobody sees. Profiles of the
 * upload processor, which confirms every ack, showed those as a visible share of its CPU; here a
 * request is a map entry and a publish.
 * @module
 */
import { createInbox, type Msg, type NatsConnection, type Subscription } from "@nats-io/nats-core";
import { replyNumber } from "./reply_number.ts";

/** Why a request through {@link Replies} got no reply. */
export class ReplyTimeoutError extends Error {
  /** The subject the request went to. */
  readonly subject: string;
  /** Creates the error. */
  constructor(subject: string, timeoutMs: number) {
    super(`no reply from ${subject} within ${timeoutMs} ms`);
    this.name = "ReplyTimeoutError";
    this.subject = subject;
  }
}

/** Requests with their replies on one subscription; see the module docs. */
export interface Replies {
  /**
   * Publishes `payload` to `subject` with a reply subject of this table; resolves with the reply,
   * or rejects with a {@link ReplyTimeoutError} after about `timeoutMs`.
   */
  request(subject: string, payload: Uint8Array, timeoutMs: number): Promise<Msg>;
  /** Rejects what still waits and unsubscribes. */
  close(): void;
  /** `close()`. */
  [Symbol.dispose](): void;
}

interface Waiting {
  subject: string;
  timeoutMs: number;
  until: number;
  resolve(msg: Msg): void;
  reject(err: Error): void;
}

/** How often waiting requests are checked for their timeout (ms). */
const SWEEP_MS = 100;

/** Subscribes a fresh inbox on `nc` for the replies of {@link Replies.request}. */
export function createReplies(nc: NatsConnection): Replies {
  const prefix = createInbox();
  // By number, as the publisher's in-flight table: a string key is hashed on every set and lookup.
  const waiting = new Map<number, Waiting>();
  let next = 0;
  let sweeper: ReturnType<typeof setInterval> | undefined;

  const sub: Subscription = nc.subscribe(`${prefix}.*`, {
    callback: (_err, msg) => {
      const token = replyNumber(msg, prefix.length);
      const w = waiting.get(token);
      if (!w) return; // timed out already
      waiting.delete(token);
      w.resolve(msg);
    },
  });

  function sweep() {
    const now = performance.now();
    for (const [token, w] of waiting) {
      if (w.until > now) continue;
      waiting.delete(token);
      w.reject(new ReplyTimeoutError(w.subject, w.timeoutMs));
    }
    if (waiting.size === 0) {
      clearInterval(sweeper);
      sweeper = undefined;
    }
  }

  function close() {
    clearInterval(sweeper);
    sweeper = undefined;
    for (const w of waiting.values()) w.reject(new Error(`closed before ${w.subject} replied`));
    waiting.clear();
    if (!sub.isClosed()) sub.unsubscribe();
  }

  return {
    request(subject, payload, timeoutMs) {
      const token = next++;
      return new Promise<Msg>((resolve, reject) => {
        if (sub.isClosed()) return reject(new Error(`closed; cannot request ${subject}`));
        waiting.set(token, {
          subject,
          timeoutMs,
          until: performance.now() + timeoutMs,
          resolve,
          reject,
        });
        sweeper ??= setInterval(sweep, SWEEP_MS);
        try {
          nc.publish(subject, payload, { reply: `${prefix}.${token.toString(36)}` });
        } catch (err) {
          waiting.delete(token);
          reject(err);
        }
      });
    },
    close,
    [Symbol.dispose]: close,
  };
}
