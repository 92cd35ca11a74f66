/**
 * The watcher's sender: takes the outbox's records in order and publishes them, each keyed by its
 * file so the stream holds one file's events in the order they happened (see the publisher's
 * order keys). A record leaves the outbox on its PubAck. After a retryable failure the outbox is
 * rewound and sending pauses briefly; a record the stream refuses for good is logged and dropped.
 * While NATS is disconnected, nothing is sent; at stop, what is left stays in the outbox.
 * @module
 */
import type { Logger } from "@logtape/logtape";
import { headers as newHeaders } from "@nats-io/nats-core";
import type { BoundCounter } from "../../http/metrics.ts";
import { type Publisher, PublishError } from "../../nats/publisher.ts";
import { delay } from "../../platform/delay.ts";
import type { WatcherMetrics } from "./metrics.ts";
import type { Outbox, OutboxRecord } from "./outbox.ts";

/** How long the sender pauses after a publish failed for a retryable reason. */
const RETRY_PAUSE = 1000;
/** How often a paused or disconnected sender looks again. */
const WAIT_STEP = 100;

/**
 * The publisher's order keys of a record: its file, and for a rename the file it came from, so
 * the stream holds each file's events in the order they happened.
 */
function orderKeys(rec: OutboxRecord): string[] | undefined {
  const c = rec.change;
  if (!c) return undefined;
  // NUL cannot be in a path, so it cannot join two pairs into the same key.
  const keys = [`${c.watch}\0${c.path}`];
  if (c.oldPath !== undefined) keys.push(`${c.watch}\0${c.oldPath}`);
  return keys;
}

/** What {@link startSender} needs. */
export interface SenderOptions {
  /** Where the records come from. */
  outbox: Outbox;
  /** Where they go. */
  publisher: Publisher;
  /** True while the NATS connection is up. */
  connected(): boolean;
  /** The role's logger. */
  log: Logger;
  /** The role's metrics. */
  metrics: WatcherMetrics;
}

/** A running sender. */
export interface Sender {
  /**
   * Stops sending: failures from now on leave their records in the outbox for the next start.
   * Resolves once the loop has ended (close the outbox first, so it hands out no more records).
   */
  stop(): Promise<void>;
}

/** Starts sending the outbox's records. */
export function startSender(options: SenderOptions): Sender {
  const { outbox, publisher, log, metrics } = options;
  const stopSignal = new AbortController();
  let pauseUntil = 0;
  let lastFailureLog = 0;
  const stopping = () => stopSignal.signal.aborted;
  // The published counter's series of each watch and type, bound once (counted per PubAck).
  const publishedSeries = new Map<string, BoundCounter>();
  function countPublished(rec: OutboxRecord) {
    const c = rec.change;
    if (!c) return;
    const key = `${c.watch}\0${c.type}`;
    let series = publishedSeries.get(key);
    if (!series) {
      series = metrics.published.bind({ watch: c.watch, type: c.type });
      publishedSeries.set(key, series);
    }
    series.inc();
  }

  function onFailure(rec: OutboxRecord, err: unknown) {
    const code = err instanceof PublishError ? err.code : "unknown";
    if (code === "stream_error" || code === "invalid_ack") {
      // The stream will never take this event (too large, ...): say so and keep going.
      log.error("event {msgId} on {subject} dropped: {error}", {
        msgId: rec.msgId,
        subject: rec.subject,
        error: (err as Error).message,
      });
      outbox.ack(rec.n);
      return;
    }
    if (stopping()) return; // stays in the outbox for the next start
    pauseUntil = Date.now() + RETRY_PAUSE;
    outbox.rewind();
    if (Date.now() - lastFailureLog > 10_000) {
      lastFailureLog = Date.now();
      log.warn("publishing file events failed ({error}); {depth} wait in the outbox", {
        error: (err as Error).message,
        depth: outbox.depth,
      });
    }
  }

  function send(rec: OutboxRecord) {
    let h;
    if (rec.headers) {
      h = newHeaders();
      for (const [k, v] of Object.entries(rec.headers)) h.set(k, v);
    }
    // A callback, not a promise per record: a burst sends 100k of them.
    publisher.send({
      subject: rec.subject,
      data: rec.data,
      msgId: rec.msgId,
      headers: h,
      orderKeys: orderKeys(rec),
    }, (err) => {
      if (err) return onFailure(rec, err);
      outbox.ack(rec.n);
      countPublished(rec);
    });
  }

  async function loop() {
    while (true) {
      const first = await outbox.next();
      if (!first) return;
      while (!stopping() && (!options.connected() || Date.now() < pauseUntil)) {
        await delay(WAIT_STEP, stopSignal.signal);
      }
      if (stopping() && !options.connected()) return;
      await publisher.room();
      // Every record ready now goes out in this turn, without an await between them: nats.js
      // then writes them to the socket at once (an await per record was a write per record,
      // the largest cost of a 100k-file burst).
      let rec: OutboxRecord | undefined = first;
      while (rec) {
        send(rec);
        rec = publisher.full ? undefined : outbox.poll();
      }
    }
  }

  const done = loop();
  return {
    stop() {
      stopSignal.abort();
      return done;
    },
  };
}
