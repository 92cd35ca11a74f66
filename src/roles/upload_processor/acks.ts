/**
 * Acks whose confirmation is awaited behind the worker, not by it, and kept track of so the role's
 * stop can await the ones still unconfirmed within its grace.
 * @module
 */
import type { Logger } from "@logtape/logtape";
import type { PulledMsg } from "./pulled.ts";

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

/** Acks with their confirmations tracked. */
export interface Acks {
  /** Acks `msg`; its confirmation (and re-sends) go on behind the caller. */
  send(msg: PulledMsg): void;
  /** Resolves once every ack sent so far is confirmed or given up on (for the role's stop). */
  confirmed(): Promise<void>;
}

/**
 * Creates the acks of a running role: `stream` names the messages in the log, `timeoutMs` is how
 * long one ack waits for its confirmation.
 */
export function createAcks(log: Logger, stream: string, timeoutMs: number): Acks {
  const unconfirmed = new Set<Promise<void>>();

  async function ack(msg: PulledMsg) {
    // While a consumer leader is being elected the confirmation does not come: the ack is sent
    // again (acking twice is harmless) rather than left to `ack_wait` and a redelivery.
    await attempts(() => msg.ackAck(timeoutMs)).catch((err) => {
      log.warn("ack of {stream}/{seq} not confirmed after {n} attempts: {error}", {
        stream,
        seq: msg.info.streamSequence,
        n: ACK_ATTEMPTS,
        error: (err as Error).message,
      });
    });
  }

  return {
    send(msg) {
      // The worker is free once the ack is sent; its confirmation (and re-sends) go on behind it.
      // Nothing depends on it: an ack lost after all is a redelivery that finds `done`.
      const confirming = ack(msg).finally(() => unconfirmed.delete(confirming));
      unconfirmed.add(confirming);
    },
    confirmed: async () => void await Promise.allSettled([...unconfirmed]),
  };
}
