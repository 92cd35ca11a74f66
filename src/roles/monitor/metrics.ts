/**
 * The monitor's Prometheus metrics, labelled with its stream and consumer once here so the
 * parts that count things only say what happened.
 * @module
 */
import type { Registry } from "../../http/metrics.ts";

/** The monitor's metrics; every method applies the `{stream, consumer}` labels. */
export interface MonitorMetrics {
  /** Lines written and flushed. */
  linesWritten(n: number): void;
  /** Messages acked after their line was flushed. */
  acked(n: number): void;
  /** A message that was not a file event. */
  badMessage(): void;
  /** The monitor created its missing consumer. */
  recreated(): void;
  /** Consumer lag and unacked count, from consumer info. */
  consumerState(pending: number, ackPending: number): void;
  /** Seconds one batch took to write and flush. */
  flushed(seconds: number): void;
  /** `n` redelivered events whose line was already written: acked, not rewritten. */
  skippedRedeliveries(n: number): void;
  /** `n` acks sent again after a leader change. */
  reacked(n: number): void;
}

/** Registers the monitor's metrics in `registry` for `stream`/`consumer`. */
export function monitorMetrics(
  registry: Registry,
  stream: string,
  consumer: string,
): MonitorMetrics {
  const labels = { stream, consumer };
  // Every counter is exported at 0 from the start, so rate() and alerts see its first event.
  const known = { labels: { stream: [stream], consumer: [consumer] } };
  const linesWritten = registry.counter(
    "monitor_lines_written_total",
    "Event lines written and flushed",
    known,
  );
  const acked = registry.counter(
    "monitor_acked_total",
    "Messages acked after their line was flushed",
    known,
  );
  const badMessages = registry.counter(
    "monitor_bad_messages_total",
    "Messages that were not file events (dead-lettered or terminated)",
    known,
  );
  const recreated = registry.counter(
    "monitor_consumer_recreated_total",
    "Times the monitor created its consumer because it was missing",
    known,
  );
  const lag = registry.gauge("monitor_consumer_lag", "Messages in the stream not yet delivered");
  const ackPending = registry.gauge("monitor_ack_pending", "Messages delivered and not yet acked");
  const flushSeconds = registry.histogram(
    "monitor_flush_seconds",
    "Time to write, flush and record one batch of lines",
  );
  const skipped = registry.counter(
    "monitor_redeliveries_skipped_total",
    "Redelivered events whose line was already written (their ack was lost): acked, not rewritten",
    known,
  );
  const reacks = registry.counter(
    "monitor_reacks_total",
    "Acks sent again after a consumer leader change (or a stuck ack floor)",
    known,
  );
  return {
    linesWritten: (n) => linesWritten.inc(labels, n),
    acked: (n) => acked.inc(labels, n),
    badMessage: () => badMessages.inc(labels),
    recreated: () => recreated.inc(labels),
    consumerState(pending, unacked) {
      lag.set(pending, labels);
      ackPending.set(unacked, labels);
    },
    flushed: (seconds) => flushSeconds.observe(seconds, labels),
    skippedRedeliveries: (n) => skipped.inc(labels, n),
    reacked: (n) => reacks.inc(labels, n),
  };
}
