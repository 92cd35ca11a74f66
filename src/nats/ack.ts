/**
 * Acknowledgement helpers that respect server differences (docs/nats-notes.md "Acks"): nats-server
 * before 2.10.4 ignores `+TERM <reason>`, and a plain `nak` ignores the consumer's `backoff`.
 * @module
 */
import type { JsMsg } from "@nats-io/jetstream";
import { supports } from "./version.ts";

/**
 * Terminates `msg` (never redelivered). The reason goes to the server where it is honoured
 * (2.10.4+); older servers would ignore a term that carries one, so they get a bare `+TERM` and
 * the caller logs the reason.
 */
export function terminate(
  msg: Pick<JsMsg, "term">,
  reason: string,
  serverVersion: string | undefined,
): void {
  if (serverVersion && supports(serverVersion, "termReason")) msg.term(reason);
  else msg.term();
}

/** Naks `msg` for redelivery after `delayMs` (a plain nak is redelivered at once). */
export function nakAfter(msg: Pick<JsMsg, "nak">, delayMs: number): void {
  msg.nak(Math.max(0, Math.round(delayMs)));
}

/** The delay before the next attempt: `backoff[deliveries - 1]`, the last step once past it. */
export function retryDelay(backoff: readonly number[], deliveries: number): number {
  if (backoff.length === 0) return 0;
  return backoff[Math.min(Math.max(deliveries, 1), backoff.length) - 1];
}
