/**
 * Reads the advisory stream until the role stops. On a cluster its consumer rides out leader
 * changes (docs/nats-notes.md "Clusters"): it pulls again when the consumer elects a new leader,
 * after two missed heartbeats or a 503, retries what an election makes fail (timeouts, no
 * responders) within seconds instead of giving up on the advisory stream, and acks each advisory
 * with the leader's confirmation, so an ack lost with a dying leader does not leave the advisory
 * waiting for `ack_wait`.
 * @module
 */
import type { ConsumerMessages, JsMsg } from "@nats-io/jetstream";
import type { DlqHandles } from "./handles.ts";
import type { AdvisoryHandler } from "./advisory_handler.ts";
import { CAPTURE_CONSUMER, ensureAdvisoryStream } from "./advisory_stream.ts";
import { backoffDelay } from "../../nats/connection.ts";
import { ackConfirmed, isTransient, onLeaderElected } from "../../nats/leader_change.ts";
import { delay } from "../../platform/delay.ts";

/** Redelivery delay of an advisory whose capture failed (DLQ or source unreachable). */
const RETRY_DELAY = 5_000;
/** Pull expiry of the advisory consumer: heartbeats every 3 s, a lost pull noticed within ~6 s. */
const PULL_EXPIRES = 6_000;
/** An advisory iterator that ends sooner than this after it started is followed by a pause. */
const MIN_ITERATOR_LIFE = 1000;

/**
 * Consumes advisory stream `name` until `h.signal` aborts: recreates the consumer if it goes
 * away, pulls again after a consumer leader change. `ensured` false: the stream still has to be
 * made sure of. `onState` hears why capture is unavailable (undefined: it is running).
 */
export async function consumeAdvisories(
  h: DlqHandles,
  name: string,
  ensured: boolean,
  handler: AdvisoryHandler,
  onState: (notReady: string | undefined) => void,
): Promise<void> {
  const { log, signal } = h;
  let failures = ensured ? 0 : 1;
  let messages: ConsumerMessages | undefined;
  const stopLeaderWatch = onLeaderElected(h.nc, name, CAPTURE_CONSUMER, () => {
    if (!messages || signal.aborted) return;
    log.info("advisory consumer {name}/{consumer} has a new leader; pulling again", {
      name,
      consumer: CAPTURE_CONSUMER,
    });
    messages.close();
  });
  // The advisory in hand is captured and acked; those behind it are given back (nak).
  const closeOnStop = () => messages?.close();
  signal.addEventListener("abort", closeOnStop, { once: true });
  while (!signal.aborted) {
    try {
      if (failures > 0 && !await ensureAdvisoryStream(h, name)) {
        throw new Error("stream unusable");
      }
      const c = await h.js.consumers.get(name, CAPTURE_CONSUMER);
      const iter = await c.consume({ max_messages: 256, expires: PULL_EXPIRES });
      messages = iter;
      const startedAt = Date.now();
      onState(undefined);
      failures = 0;
      watchConsumer(h, name, iter).then((gone) => {
        if (gone) failures++;
      });
      for await (const msg of iter) await settle(h, msg, handler);
      const lived = Date.now() - startedAt;
      if (lived < MIN_ITERATOR_LIFE) await delay(MIN_ITERATOR_LIFE - lived, signal);
    } catch (err) {
      if (signal.aborted) break;
      // An election takes seconds: retry those errors often.
      const wait = isTransient(err)
        ? backoffDelay(failures++, 500, 4000, 250)
        : backoffDelay(failures++, 1000, 30_000, 250);
      onState(`advisory capture unavailable: ${(err as Error).message}`);
      log.warn("advisory capture unavailable: {error}; trying again in {delay} ms", {
        error: (err as Error).message,
        delay: wait,
      });
      await delay(wait, signal);
    } finally {
      messages = undefined;
    }
  }
  signal.removeEventListener("abort", closeOnStop);
  stopLeaderWatch();
}

/**
 * Ends `iter` when its consumer is gone (resolves true: recreate it) or its pull was lost with
 * a consumer leader (two missed heartbeats, or a 503 while no leader answers).
 */
async function watchConsumer(
  h: DlqHandles,
  name: string,
  iter: ConsumerMessages,
): Promise<boolean> {
  const what = { name, consumer: CAPTURE_CONSUMER };
  for await (const s of iter.status()) {
    if (["consumer_deleted", "consumer_not_found", "stream_not_found"].includes(s.type)) {
      h.log.warn("advisory consumer {name}/{consumer} is gone ({type}); recreating it", {
        ...what,
        type: s.type,
      });
      iter.close();
      return true;
    }
    if (s.type === "heartbeats_missed" || s.type === "no_responders") {
      h.log.warn("advisory consumer {name}/{consumer}: {type}; pulling again", {
        ...what,
        type: s.type,
      });
      iter.close();
      return false;
    }
  }
  return false;
}

/** Captures one advisory, then acks it (confirmed) or naks it for a later retry. */
async function settle(h: DlqHandles, msg: JsMsg, handler: AdvisoryHandler): Promise<void> {
  if (h.signal.aborted) {
    msg.nak();
    return;
  }
  if (!await handler.handle(msg.subject, msg.data)) {
    msg.nak(RETRY_DELAY);
    return;
  }
  // Confirmed by the consumer's leader: an ack lost with a dying leader would hold the advisory
  // until ack_wait (and capture it again, as a duplicate, after that).
  const ok = await ackConfirmed(h.nc, msg, { signal: h.signal });
  if (!ok && !h.signal.aborted) {
    h.log.warn(
      "ack of advisory {subject} not confirmed; it is captured again (a duplicate) after ack_wait",
      { subject: msg.subject },
    );
  }
}
