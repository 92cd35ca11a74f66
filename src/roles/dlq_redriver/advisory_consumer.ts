/**
 * Reads the advisory stream through the one resilient pull loop (`src/nats/durable_consumer.ts`:
 * it pulls again after a consumer leader change, missed heartbeats or a 503, and retries what an
 * election makes fail within seconds instead of giving up on the advisory stream). What is
 * particular to the DLQ: before every pull the stream and its consumer are made sure of (it
 * recreates them when they went away), and each advisory is acked with the leader's confirmation,
 * so an ack lost with a dying leader does not leave the advisory waiting for `ack_wait` (and
 * captured again, as a duplicate, after that).
 * @module
 */
import type { NatsConnection } from "@nats-io/nats-core";
import type { JsMsg } from "@nats-io/jetstream";
import type { DlqHandles } from "./handles.ts";
import type { AdvisoryHandler } from "./advisory_handler.ts";
import { CAPTURE_CONSUMER, ensureAdvisoryStream } from "./advisory_stream.ts";
import { type DurableConsumer, startDurableConsumer } from "../../nats/durable_consumer.ts";
import { ackConfirmed } from "../../nats/leader_change.ts";

/** Redelivery delay of an advisory whose capture failed (DLQ or source unreachable). */
const RETRY_DELAY = 5_000;

/** Starts consuming advisory stream `name`; stop it with `stop()`. */
export function consumeAdvisories(
  h: DlqHandles,
  nats: { readonly ready: Promise<NatsConnection> },
  name: string,
  handler: AdvisoryHandler,
): DurableConsumer {
  return startDurableConsumer({
    nats,
    stream: name,
    consumer: CAPTURE_CONSUMER,
    batch: 256,
    log: h.log,
    async prepare() {
      if (!await ensureAdvisoryStream(h, name)) {
        throw new Error(`advisory stream ${name} cannot be used (see the warning before)`);
      }
    },
    async handle(batch) {
      for (const msg of batch) await settle(h, msg, handler);
    },
  });
}

/** Captures one advisory, then acks it (confirmed) or naks it for a later retry. */
async function settle(h: DlqHandles, msg: JsMsg, handler: AdvisoryHandler): Promise<void> {
  if (h.signal.aborted) {
    // Stopping: the advisories behind the one in hand go back for the next start.
    msg.nak();
    return;
  }
  if (!await handler.handle(msg.subject, msg.data)) {
    msg.nak(RETRY_DELAY);
    return;
  }
  const ok = await ackConfirmed(h.nc, msg, { signal: h.signal });
  if (!ok && !h.signal.aborted) {
    h.log.warn(
      "ack of advisory {subject} not confirmed; it is captured again (a duplicate) after ack_wait",
      { subject: msg.subject },
    );
  }
}
