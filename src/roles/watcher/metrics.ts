/**
 * The watcher's metrics, registered once per role.
 * @module
 */
import type { Counter, Gauge, Registry } from "../../http/metrics.ts";

/** The watcher's metrics. */
export interface WatcherMetrics {
  /** Events stored in the stream, by watch and type. */
  published: Counter;
  /** Paths marked dirty and not yet reconciled, by watch. */
  dirtyPaths: Gauge;
  /** Files and directories in the snapshot, by watch. */
  files: Gauge;
  /**
   * Completed full scans, by watch and reason (start, interval, poll, reopen, or a loss reason).
   */
  rescans: Counter;
  /** Possible event losses detected, by watch and reason. */
  lossDetections: Counter;
  /** 1 while a watch polls because the OS refuses more watches. */
  polling: Gauge;
  /** Events in the on-disk outbox not yet acknowledged. */
  outboxDepth: Gauge;
}

/** Registers the watcher's metrics in `registry`. */
export function watcherMetrics(registry: Registry): WatcherMetrics {
  return {
    published: registry.counter(
      "watcher_events_published_total",
      "File events stored in the stream, by watch and type",
    ),
    dirtyPaths: registry.gauge("watcher_dirty_paths", "Paths waiting to be reconciled"),
    files: registry.gauge("watcher_files", "Files and directories in the watch's snapshot"),
    rescans: registry.counter("watcher_rescans_total", "Full scans of a watch root, by reason"),
    lossDetections: registry.counter(
      "watcher_loss_detections_total",
      "Times events may have been lost (burst, cookie, watcher error), each answered by a rescan",
    ),
    polling: registry.gauge(
      "watcher_polling",
      "1 while a watch falls back to periodic scans (OS watch limit reached)",
    ),
    outboxDepth: registry.gauge(
      "watcher_outbox_depth",
      "File events in the on-disk outbox awaiting their PubAck",
    ),
  };
}
