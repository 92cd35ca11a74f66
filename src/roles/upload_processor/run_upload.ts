/**
 * The download + handler run of one claimed event. An outage failure while the circuit breaker is
 * open is retried in place once it closes (with a fresh download), without giving the message back
 * (which would cost a delivery).
 * @module
 */
import type { Breaker } from "./breaker.ts";
import { download, type Downloaded, type DownloadOptions, removeDownload } from "./download.ts";
import type { UploadEvent } from "./event.ts";
import { asFailure, retryable } from "./failure.ts";
import type { Handler, HandlerResult } from "./handler.ts";
import type { UploadMetrics } from "./metrics.ts";
import type { PulledMsg } from "./pulled.ts";

/** What {@link runUpload} needs from the running role. */
export interface RunDeps {
  /** Metrics. */
  metrics: UploadMetrics;
  /** The handler. */
  handler: Handler;
  /** The circuit breaker. */
  breaker: Breaker;
  /** Where and how files are downloaded (without a signal). */
  downloads: DownloadOptions;
  /** Fires when the role starts stopping: waits end, nothing new starts. */
  stopping: AbortSignal;
  /** Fires at the grace deadline: running downloads and handlers are killed. */
  abort: AbortSignal;
}

/**
 * Download + handler; outage failures wait for the breaker and try again. `first` is the
 * download started beside the claim; retries download again. `file.path` is the downloaded file
 * while there is one (the caller removes or keeps it). Throws an `UploadFailure`.
 */
export async function runUpload(
  deps: RunDeps,
  msg: PulledMsg,
  event: UploadEvent,
  file: { path?: string },
  first: Promise<Downloaded>,
): Promise<HandlerResult> {
  const { metrics, breaker } = deps;
  for (
    let next = first;;
    next = download(event, { ...deps.downloads, signal: deps.abort })
  ) {
    try {
      const got = await next;
      file.path = got.path;
      const h0 = performance.now();
      try {
        const job = {
          event,
          file: got.path,
          originalFilename: got.originalFilename,
          deliveries: msg.info.deliveryCount,
        };
        const result = await deps.handler(job, deps.abort);
        breaker.succeeded();
        return result;
      } finally {
        metrics.handlerSeconds.observe((performance.now() - h0) / 1000);
      }
    } catch (err) {
      const failure = asFailure(err);
      if (file.path) await removeDownload(file.path);
      file.path = undefined;
      if (!breaker.failed(failure, event.event_id)) throw failure;
      await breaker.closed(deps.stopping);
    }
    if (deps.stopping.aborted) throw retryable("shutdown", "stopping before the work began");
  }
}
