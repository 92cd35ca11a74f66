/**
 * The upload processor's metrics (`jetport_upload_*` on `/metrics`).
 * @module
 */
import type { Counter, Gauge, Histogram, Registry } from "../../http/metrics.ts";

/** The role's metric handles. */
export interface UploadMetrics {
  /** Events processed successfully. */
  processed: Counter;
  /** Events dead-lettered / terminated, by `reason`. */
  failed: Counter;
  /** Naks for a later retry, by `reason`. */
  retried: Counter;
  /** Redelivered events skipped because their id was in the dedupe bucket. */
  duplicates: Counter;
  /** Events being worked on now. */
  inFlight: Gauge;
  /** How long handlers ran, in seconds. */
  handlerSeconds: Histogram;
  /** Bytes of data objects read from S3. */
  bytes: Counter;
  /** Deliveries given back because another process holds the event's claim. */
  claimedElsewhere: Counter;
  /** 1 while the circuit breaker is open (a dependency is down; not pulling). */
  circuitOpen: Gauge;
  /** Times the circuit breaker opened. */
  circuitOpened: Counter;
}

/** Registers (or looks up) the role's metrics in `registry`. */
export function uploadMetrics(registry: Registry): UploadMetrics {
  return {
    processed: registry.counter("upload_processed_total", "Upload events processed successfully"),
    failed: registry.counter(
      "upload_failed_total",
      "Upload events that failed for good (dead-lettered and terminated), by reason",
    ),
    retried: registry.counter("upload_retried_total", "Upload events given back for a retry"),
    duplicates: registry.counter(
      "upload_duplicates_total",
      "Redelivered upload events already in the dedupe bucket (acked, handler not run)",
    ),
    inFlight: registry.gauge("upload_in_flight", "Upload events being processed"),
    handlerSeconds: registry.histogram(
      "upload_handler_duration_seconds",
      "Handler run time in seconds",
    ),
    bytes: registry.counter("upload_downloaded_bytes_total", "Bytes downloaded from S3"),
    claimedElsewhere: registry.counter(
      "upload_claimed_elsewhere_total",
      "Deliveries given back because another process is working on the event",
    ),
    circuitOpen: registry.gauge(
      "upload_circuit_open",
      "1 while S3 or the http handler is down and the processor is not pulling",
      { labels: {} },
    ),
    circuitOpened: registry.counter(
      "upload_circuit_opened_total",
      "Times the upload processor stopped pulling because a dependency was down",
      { labels: {} },
    ),
  };
}
