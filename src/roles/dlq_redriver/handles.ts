/**
 * What every part of the dlq_redriver works with once the role has started: the connection and
 * its JetStream handles, the publisher, the config and a stop signal. Built once in `start()`
 * and passed as one object, so no part holds an "maybe not connected yet" handle.
 * @module
 */
import type { Logger } from "@logtape/logtape";
import type { NatsConnection } from "@nats-io/nats-core";
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import type { Counter, Gauge, Registry } from "../../http/metrics.ts";
import type { DlqTarget } from "../../nats/dlq.ts";
import type { Publisher } from "../../nats/publisher.ts";
import type { DlqRedriverConfig } from "./config.ts";
import { ADVISORY_KINDS } from "./capture.ts";

/** The role's metrics. */
export interface DlqMetrics {
  /** Dead messages stored by capture, by source and kind. */
  captured: Counter;
  /** Advisories for messages the DLQ already held, by source. */
  duplicates: Counter;
  /** Captures that failed and will be retried, by source. */
  captureFailures: Counter;
  /** Entries redriven automatically, by source. */
  redriven: Counter;
  /** Entries auto-redrive leaves alone, by source. */
  parked: Gauge;
  /** Entries in the DLQ, by source. */
  depth: Gauge;
}

/**
 * Registers the role's metrics; every configured source (`STREAM/CONSUMER`) is a series at 0 from
 * the start, so the first capture or redrive shows in `increase()` and alerts.
 */
export function dlqMetrics(m: Registry, sources: readonly string[]): DlqMetrics {
  const bySource = { labels: { source: sources } };
  return {
    captured: m.counter(
      "dlq_captured_total",
      "Dead messages stored in the DLQ by capture, by source and kind",
      { labels: { source: sources, kind: Object.keys(ADVISORY_KINDS) } },
    ),
    duplicates: m.counter(
      "dlq_capture_duplicates_total",
      "Advisories for messages the DLQ already held, by source",
      bySource,
    ),
    captureFailures: m.counter(
      "dlq_capture_failures_total",
      "Captures that failed and will be retried, by source",
      bySource,
    ),
    redriven: m.counter(
      "dlq_redriven_total",
      "Entries redriven automatically, by source",
      bySource,
    ),
    parked: m.gauge(
      "dlq_parked",
      "Entries auto-redrive leaves alone (max_redrives reached, or no payload), by source",
      bySource,
    ),
    depth: m.gauge("dlq_depth", "Entries in the DLQ, by source", bySource),
  };
}

/** The started role's handles. */
export interface DlqHandles {
  /** The connection. */
  nc: NatsConnection;
  /** JetStream management API. */
  jsm: JetStreamManager;
  /** JetStream client. */
  js: JetStreamClient;
  /** Writes DLQ entries and redrives. */
  publisher: Publisher;
  /** The role's config section. */
  cfg: DlqRedriverConfig;
  /** The DLQ. */
  target: DlqTarget;
  /** The role's logger. */
  log: Logger;
  /** The role's metrics. */
  metrics: DlqMetrics;
  /** Aborted when the role stops: every loop ends and every wait is cut short. */
  signal: AbortSignal;
}
