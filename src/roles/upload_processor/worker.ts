/**
 * One upload event, from delivery to outcome: parse, claim while the download runs
 * (`claim_while_downloading.ts`), run the download and the handler (`run_upload.ts`), then hand the
 * result to `outcome.ts`: a success finishes (`done`, result, ack) behind the worker
 * (`finishing.ts`), which takes the next event meanwhile. Until then the message is heartbeated
 * (`working()`) and the claim refreshed, so neither the server nor another process takes the event
 * away from a slow but live worker.
 * @module
 */
import type { Logger } from "@logtape/logtape";
import { nakAfter, retryDelay } from "../../nats/ack.ts";
import type { Breaker } from "./breaker.ts";
import { type ClaimDeps, claimWhileDownloading } from "./claim_while_downloading.ts";
import type { UploadProcessorConfig } from "./config.ts";
import type { Claim, ClaimResult, Dedupe } from "./dedupe.ts";
import { type DownloadOptions, keepDownload, removeDownload } from "./download.ts";
import type { Finishing } from "./finishing.ts";
import { parseUploadEvent, type UploadEvent } from "./event.ts";
import { asFailure, retryable } from "./failure.ts";
import type { Handler } from "./handler.ts";
import type { UploadMetrics } from "./metrics.ts";
import type { Outcomes } from "./outcome.ts";
import type { PulledMsg } from "./pulled.ts";
import type { ResultEvent } from "./result_event.ts";
import { type RunDeps, runUpload } from "./run_upload.ts";
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
  /** Where successes finish behind the worker; the role's stop awaits it. */
  finishing: Finishing;
}

/** Processes one delivery to its outcome; never throws. */
export type Worker = (msg: PulledMsg) => Promise<void>;

/** Creates the worker function. */
export function createWorker(deps: WorkerDeps): Worker {
  const { cfg, metrics, breaker, outcomes } = deps;
  const parse = eventParser(deps.log);
  const downloads: DownloadOptions = {
    downloadDir: cfg.download_dir,
    s3: deps.s3,
    masterKey: deps.masterKey,
    onBytes: (n) => metrics.bytes.inc(undefined, n),
  };
  const run: RunDeps = { ...deps, downloads };
  const claiming: ClaimDeps = { ...deps, downloads };

  return async (msg) => {
    const t0 = performance.now();
    let claim: Claim | undefined;
    const heartbeat = setInterval(() => {
      msg.working();
      claim?.refresh();
    }, deps.heartbeatMs);
    const file: { path?: string } = {};
    let keep = false;
    let finish: (() => Promise<void>) | undefined;
    try {
      const event = parse(msg);
      // Messages that arrive while a dependency is down wait here, heartbeated, not naked.
      await breaker.closed(deps.stopping);
      if (deps.stopping.aborted) throw retryable("shutdown", "stopping before the work began");
      const { claimed, downloading } = await claimWhileDownloading(claiming, msg, event);
      if (claimed.kind !== "claimed") return await notClaimed(deps, msg, event, claimed);
      claim = claimed.claim;
      const { outputPath } = await runUpload(run, msg, event, file, downloading);
      keep = cfg.keep_files;
      if (keep && file.path) keepDownload(file.path);
      const result: ResultEvent = {
        event_id: event.event_id,
        file_uuid: event.file_uuid,
        status: "processed",
        duration_ms: Math.round(performance.now() - t0),
        output_path: outputPath ?? (keep ? file.path : undefined),
      };
      const done = { msg, event, claim, result, heartbeat, path: keep ? undefined : file.path };
      finish = () => finishSuccess(deps, done);
    } catch (err) {
      await outcomes.fail(msg, asFailure(err), claim);
    } finally {
      if (!finish) {
        clearInterval(heartbeat);
        if (file.path && !keep) await removeDownload(file.path);
      }
    }
    // The `done` record, the result's PubAck and the ack go on behind this worker.
    if (finish) await deps.finishing.add(finish);
  };
}

/** A success whose handler has run, still heartbeated until it is finished. */
interface Success {
  msg: PulledMsg;
  event: UploadEvent;
  claim: Claim;
  result: ResultEvent;
  heartbeat: ReturnType<typeof setInterval>;
  /** The downloaded file, removed once finished (undefined: kept, or none). */
  path?: string;
}

/** Records `done`, publishes the result, acks (`outcome.ts`), then removes the file. */
async function finishSuccess(deps: WorkerDeps, s: Success): Promise<void> {
  try {
    await deps.outcomes.succeed(s.msg, s.event, s.claim, s.result);
  } catch (err) {
    await deps.outcomes.fail(s.msg, asFailure(err), s.claim);
  } finally {
    clearInterval(s.heartbeat);
    // After the ack (or the nak of a result not stored), as before this ran behind the worker.
    if (s.path) await removeDownload(s.path);
  }
}

/** Parses a delivery's upload event; each unknown field is logged once per process. */
function eventParser(log: Logger): (msg: PulledMsg) => UploadEvent {
  const extraLogged = new Set<string>();
  return (msg) => {
    const { event, extra } = parseUploadEvent(msg.data);
    for (const name of extra) {
      if (extraLogged.has(name)) continue;
      extraLogged.add(name);
      log.debug("upload events carry field {name}, unknown here: passed on to the handler", {
        name,
      });
    }
    return event;
  };
}

/**
 * A delivery whose event is not ours to run: already `done` (its result published again, then
 * acked), `dead` (dead-lettered again), or claimed by a live worker elsewhere (naked for later).
 */
async function notClaimed(
  deps: WorkerDeps,
  msg: PulledMsg,
  event: UploadEvent,
  claimed: Exclude<ClaimResult, { kind: "claimed" }>,
): Promise<void> {
  const { cfg, log, metrics, outcomes } = deps;
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
}
