/**
 * One upload event, from delivery to outcome: parse, claim (`dedupe.ts`), download (and decrypt),
 * run the handler, then hand the result to `outcome.ts`. While working, the message is
 * heartbeated (`working()`) and the claim refreshed, so neither the server nor another process
 * takes the event away from a slow but live worker. An outage failure while the circuit breaker is
 * open is retried in place once it closes, without giving the message back (which would cost a
 * delivery).
 * @module
 */
import type { Logger } from "@logtape/logtape";
import { dirname } from "node:path";
import { nakAfter, retryDelay } from "../../nats/ack.ts";
import type { Breaker } from "./breaker.ts";
import type { UploadProcessorConfig } from "./config.ts";
import type { Claim, ClaimResult, Dedupe } from "./dedupe.ts";
import { download, type Downloaded } from "./download.ts";
import { parseUploadEvent, type UploadEvent } from "./event.ts";
import { asFailure, retryable } from "./failure.ts";
import type { Handler } from "./handler.ts";
import type { UploadMetrics } from "./metrics.ts";
import type { Outcomes } from "./outcome.ts";
import type { PulledMsg } from "./pulled.ts";
import type { S3Getter } from "./s3.ts";

/** What a worker needs from the running role. */
export interface WorkerDeps {
  /** The role's section. */
  cfg: UploadProcessorConfig;
  /** Logger. */
  log: Logger;
  /** Metrics. */
  metrics: UploadMetrics;
  /** S3 client. */
  s3: S3Getter;
  /** The master key, when decryption is on. */
  masterKey?: Uint8Array;
  /** The handler. */
  handler: Handler;
  /** Claims. */
  dedupe: Dedupe;
  /** The circuit breaker. */
  breaker: Breaker;
  /** How a delivery ends. */
  outcomes: Outcomes;
  /** How often the message is heartbeated and the claim refreshed (ms). */
  heartbeatMs: number;
  /** Fires when the role starts stopping: waits end, nothing new starts. */
  stopping: AbortSignal;
  /** Fires at the grace deadline: running downloads and handlers are killed. */
  abort: AbortSignal;
  /** Work left behind a finished delivery (removing its file); the role's stop awaits it. */
  behind: Set<Promise<void>>;
}

/** Processes one delivery to its outcome; never throws. */
export type Worker = (msg: PulledMsg) => Promise<void>;

/** Creates the worker function. */
export function createWorker(deps: WorkerDeps): Worker {
  const { cfg, log, metrics, breaker, outcomes } = deps;
  const extraLogged = new Set<string>();

  function parse(msg: PulledMsg): UploadEvent {
    const { event, extra } = parseUploadEvent(msg.data);
    for (const name of extra) {
      if (extraLogged.has(name)) continue;
      extraLogged.add(name);
      log.debug("upload events carry field {name}, unknown here: passed on to the handler", {
        name,
      });
    }
    return event;
  }

  /**
   * Download + handler; outage failures wait for the breaker and try again. `first` is the
   * download started beside the claim; retries download again.
   */
  async function run(
    msg: PulledMsg,
    event: UploadEvent,
    file: { path?: string },
    first: Promise<Downloaded>,
  ) {
    for (let next = first;; next = fetch(event, deps.abort)) {
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
        if (file.path) await removeFile(file.path);
        file.path = undefined;
        if (!breaker.failed(failure, event.event_id)) throw failure;
        await breaker.closed(deps.stopping);
      }
      if (deps.stopping.aborted) throw retryable("shutdown", "stopping before the work began");
    }
  }

  function fetch(event: UploadEvent, signal: AbortSignal, placeAfter?: Promise<unknown>) {
    return download(event, {
      downloadDir: cfg.download_dir,
      s3: deps.s3,
      masterKey: deps.masterKey,
      signal,
      onBytes: (n) => metrics.bytes.inc(undefined, n),
      placeAfter,
    });
  }

  /**
   * Claims the event while its download already runs (the claim is a KV round trip or two; the
   * GETs need not wait for it). The file is moved into place only once the claim is held, and
   * the handler runs only then; when the claim is not ours the download is cancelled.
   */
  async function claimWhileDownloading(msg: PulledMsg, event: UploadEvent) {
    const claiming = deps.dedupe.claim(event.event_id, msg.info.streamSequence);
    const cancel = new AbortController();
    const signal = AbortSignal.any([deps.abort, cancel.signal]);
    const placeAfter = claiming.then((c) => {
      if (c.kind !== "claimed") throw new Error("not claimed");
    });
    placeAfter.catch(() => {/* the download may end before it waits for this */});
    const downloading = fetch(event, signal, placeAfter);
    downloading.catch(() => {/* awaited in run() or dropped below */});
    let claimed: ClaimResult;
    try {
      claimed = await claiming;
    } catch (err) {
      cancel.abort();
      await downloading.catch(() => {});
      throw err;
    }
    if (claimed.kind !== "claimed") {
      cancel.abort();
      await downloading.catch(() => {});
    }
    return { claimed, downloading };
  }

  return async (msg) => {
    const t0 = performance.now();
    let claim: Claim | undefined;
    const heartbeat = setInterval(() => {
      msg.working();
      claim?.refresh();
    }, deps.heartbeatMs);
    const file: { path?: string } = {};
    let keep = false;
    try {
      const event = parse(msg);
      // Messages that arrive while a dependency is down wait here, heartbeated, not naked.
      await breaker.closed(deps.stopping);
      if (deps.stopping.aborted) throw retryable("shutdown", "stopping before the work began");
      const { claimed, downloading } = await claimWhileDownloading(msg, event);
      if (claimed.kind === "done") {
        if (!await outcomes.repeat(msg, event.event_id, claimed.result)) return;
        metrics.duplicates.inc();
        log.info("event {event_id} ({stream}/{seq}) was already processed; acked", {
          event_id: event.event_id,
          stream: cfg.stream,
          seq: msg.info.streamSequence,
        });
        return;
      }
      if (claimed.kind === "dead") return await outcomes.deadLetterAndTerm(msg, claimed.reason);
      if (claimed.kind === "busy") {
        const delay = retryDelay(cfg.retry.backoff, msg.info.deliveryCount);
        nakAfter(msg, delay);
        metrics.claimedElsewhere.inc();
        log.info(
          "event {event_id} ({stream}/{seq}) is being processed elsewhere; back in {ms} ms",
          {
            event_id: event.event_id,
            stream: cfg.stream,
            seq: msg.info.streamSequence,
            ms: delay,
          },
        );
        return;
      }
      claim = claimed.claim;
      const { outputPath } = await run(msg, event, file, downloading);
      keep = cfg.keep_files;
      const acked = await outcomes.succeed(msg, event, claim, {
        event_id: event.event_id,
        file_uuid: event.file_uuid,
        status: "processed",
        duration_ms: Math.round(performance.now() - t0),
        output_path: outputPath ?? (keep ? file.path : undefined),
      });
      if (acked && file.path && !keep) {
        // The next event need not wait for two fs round trips. Only after an ack: a delivery
        // given back could be downloaded to the same path again while this removal runs.
        const removal = removeFile(file.path).finally(() => deps.behind.delete(removal));
        deps.behind.add(removal);
        file.path = undefined;
      }
    } catch (err) {
      await outcomes.fail(msg, asFailure(err), claim);
    } finally {
      clearInterval(heartbeat);
      if (file.path && !keep) await removeFile(file.path);
    }
  };
}

async function removeFile(file: string) {
  await Deno.remove(file).catch(() => {});
  await Deno.remove(dirname(file)).catch(() => {/* not empty: another file of the upload */});
}
