/**
 * Pausing the shared consumer while a dependency is down, so every process stops pulling, not
 * only the one whose circuit breaker opened. Only servers from 2.11 have consumer pause; on older
 * ones each process's own breaker is all there is. A pause is always given an end (a little past
 * the next probe) and renewed before each probe, so a process that dies while holding it cannot
 * leave the consumer paused for long.
 * @module
 */
import type { JetStreamManager } from "@nats-io/jetstream";
import { supports } from "../../nats/version.ts";

/** Margin a pause lasts beyond the next probe (ms). */
const PAUSE_MARGIN_MS = 10_000;

/** The breaker's `hold`/`release` for one consumer; no-ops when the server cannot pause. */
export function consumerPause(
  jsm: JetStreamManager,
  stream: string,
  consumer: string,
  serverVersion: () => string | undefined,
): { hold(ms: number): Promise<void>; release(): Promise<void> } {
  const able = () => supports(serverVersion() ?? "0.0.0", "consumerPause");
  let paused = false;
  return {
    async hold(ms) {
      if (!able()) return;
      await jsm.consumers.pause(stream, consumer, new Date(Date.now() + ms + PAUSE_MARGIN_MS));
      paused = true;
    },
    async release() {
      if (!paused) return;
      paused = false;
      await jsm.consumers.resume(stream, consumer);
    },
  };
}
