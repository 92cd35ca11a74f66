/**
 * The `upload_processor` role: a durable pull consumer of "file uploaded" events. For each event
 * it downloads (and decrypts) the object from S3-compatible storage, runs the configured handler,
 * then acks (and records the event id), naks with backoff, or dead-letters and terminates.
 *
 * `concurrency` workers share one durable consumer through one long-lived pull subscription
 * (`puller.ts`); each pull asks for as many messages as there are free workers, so this process
 * never holds more unacked messages than it can work on (and never more than the consumer's
 * `max_ack_pending`). Several processes may share the durable.
 * @module
 */
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import { type DeadLetter, deadLetter, type DlqTarget, dlqTarget } from "../../nats/dlq.ts";
import { nakAfter, retryDelay, terminate } from "../../nats/ack.ts";
import { createPublisher, type Publisher } from "../../nats/publisher.ts";
import type { Role, RoleContext } from "../role.ts";
import type { UploadProcessorConfig } from "./config.ts";
import { download } from "./download.ts";
import { loadMasterKey } from "./envelope.ts";
import { parseUploadEvent, type UploadEvent } from "./event.ts";
import { asFailure, type UploadFailure } from "./failure.ts";
import { createHandler } from "./handler.ts";
import { uploadMetrics } from "./metrics.ts";
import { resolveS3Settings, s3Getter } from "./s3.ts";
import { ensureConsumer, ensureDedupeBucket } from "./setup.ts";
import type { PulledMsg } from "./pulled.ts";
import { createPuller, type Puller } from "./puller.ts";
import { dirname } from "node:path";

/** The result event published to `publish_result` after a success. */
export interface ResultEvent {
  /** The upload event's id. */
  event_id: string;
  /** The uploaded file's id. */
  file_uuid: string;
  /** Always `processed` (failures go to the DLQ). */
  status: "processed";
  /** Download + handler time. */
  duration_ms: number;
  /** Where the output is: reported by the handler, else the kept local file. */
  output_path?: string;
}

/** Consecutive pull failures after which the role asks the supervisor for a restart. */
const MAX_PULL_FAILURES = 10;

/** How often an unconfirmed ack is sent again before the role gives up on confirming it. */
const ACK_ATTEMPTS = 4;

/** Runs `fn` up to {@link ACK_ATTEMPTS} times until it resolves; rejects with the last error. */
async function attempts<T>(fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1;; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt >= ACK_ATTEMPTS) throw err;
    }
  }
}

/** Creates the role from its context (`roles.upload_processor` must be present). */
export function createUploadProcessor(ctx: RoleContext, cfg: UploadProcessorConfig): Role {
  const log = ctx.log;
  const metrics = uploadMetrics(ctx.metrics);
  const handler = createHandler(cfg.handler);
  const dlq: DlqTarget | undefined = dlqTarget(ctx.config);
  const abort = new AbortController(); // fired at the grace deadline: kills what still runs
  const inFlight = new Set<Promise<void>>();
  let started = false;
  let puller: Puller | undefined;
  let publisher: Publisher | undefined;
  let kv: KV;
  let masterKey: Uint8Array | undefined;
  let heartbeatMs = 10_000;
  let ackTimeoutMs = 5000;
  let limit = cfg.concurrency;
  let s3: ReturnType<typeof s3Getter>;

  async function start() {
    s3 = s3Getter(resolveS3Settings(cfg.s3));
    if (cfg.decrypt) masterKey = await loadMasterKey(cfg.decrypt);
    await Deno.mkdir(cfg.download_dir, { recursive: true });
    const nc = await ctx.nats.ready;
    const jsm = await jetstreamManager(nc);
    const js = jetstream(nc);
    const info = await ensureConsumer(jsm, cfg, ctx.config);
    // Heartbeat well inside ack_wait so a slow download or handler never looks abandoned.
    heartbeatMs = Math.max(100, (info.config.ack_wait ?? 30e9) / 1e6 / 3);
    // All attempts at confirming an ack fit in ack_wait, so a retried ack still lands in time.
    ackTimeoutMs = Math.max(200, Math.min(5000, heartbeatMs * 3 / ACK_ATTEMPTS));
    const maxAckPending = info.config.max_ack_pending ?? -1;
    if (maxAckPending > 0 && maxAckPending < cfg.concurrency) {
      log.warn("concurrency {c} is above the consumer's max_ack_pending {m}; using {m} workers", {
        c: cfg.concurrency,
        m: maxAckPending,
      });
      limit = maxAckPending;
    }
    kv = await ensureDedupeBucket(js, jsm, cfg.dedupe_bucket, cfg.dedupe_ttl);
    publisher = createPublisher(nc, { metrics: ctx.metrics, name: "upload_processor" });
    if (!dlq) {
      log.warn(
        "no roles.dlq_redriver configured: failed uploads are terminated with a logged " +
          "reason, not kept in a DLQ",
      );
    }
    log.info("consuming {stream}/{consumer} with {n} workers into {dir}", {
      stream: cfg.stream,
      consumer: cfg.consumer,
      n: limit,
      dir: cfg.download_dir,
    });
    started = true;
    puller = createPuller({
      nc,
      stream: cfg.stream,
      consumer: cfg.consumer,
      expires: cfg.fetch_wait,
      limit,
      busy: () => inFlight.size,
      deliver: dispatch,
      onFailures: (n, err) => {
        if (n >= MAX_PULL_FAILURES) ctx.crash(err);
      },
      log,
    });
  }

  function dispatch(msg: PulledMsg) {
    const work = process(msg).finally(() => {
      inFlight.delete(work);
      metrics.inFlight.set(inFlight.size);
      puller?.fill();
    });
    inFlight.add(work);
    metrics.inFlight.set(inFlight.size);
  }

  async function process(msg: PulledMsg) {
    const t0 = performance.now();
    const heartbeat = setInterval(() => msg.working(), heartbeatMs);
    let file: string | undefined;
    let keep = false;
    try {
      const event = parseUploadEvent(msg.data);
      if (await alreadyProcessed(event)) {
        await ack(msg);
        metrics.duplicates.inc();
        log.info("event {event_id} ({stream}/{seq}) was already processed; acked", {
          event_id: event.event_id,
          stream: cfg.stream,
          seq: msg.info.streamSequence,
        });
        return;
      }
      const got = await download(event, {
        downloadDir: cfg.download_dir,
        s3,
        masterKey,
        signal: abort.signal,
        onBytes: (n) => metrics.bytes.inc(undefined, n),
      });
      file = got.path;
      const h0 = performance.now();
      let outputPath: string | undefined;
      try {
        ({ outputPath } = await handler(
          {
            event,
            file,
            originalFilename: got.originalFilename,
            deliveries: msg.info.deliveryCount,
          },
          abort.signal,
        ));
      } finally {
        metrics.handlerSeconds.observe((performance.now() - h0) / 1000);
      }
      keep = cfg.keep_files;
      await succeed(msg, event, {
        event_id: event.event_id,
        file_uuid: event.file_uuid,
        status: "processed",
        duration_ms: Math.round(performance.now() - t0),
        output_path: outputPath ?? (keep ? file : undefined),
      });
    } catch (err) {
      await fail(msg, asFailure(err));
    } finally {
      clearInterval(heartbeat);
      if (file && !keep) await removeFile(file);
    }
  }

  async function alreadyProcessed(event: UploadEvent): Promise<boolean> {
    try {
      return (await kv.get(event.event_id))?.operation === "PUT";
    } catch (err) {
      throw asFailure(new Error(`dedupe bucket ${cfg.dedupe_bucket}: ${(err as Error).message}`));
    }
  }

  /**
   * Acks and waits for the server's confirmation, so a shutdown right after cannot leave it
   * unacked. While a consumer leader is being elected the confirmation does not come: the ack is
   * sent again (acking twice is harmless) rather than left to `ack_wait` and a redelivery.
   */
  async function ack(msg: PulledMsg) {
    await attempts(() => msg.ackAck(ackTimeoutMs)).catch((err) => {
      log.warn("ack of {stream}/{seq} not confirmed after {n} attempts: {error}", {
        stream: cfg.stream,
        seq: msg.info.streamSequence,
        n: ACK_ATTEMPTS,
        error: (err as Error).message,
      });
    });
  }

  async function succeed(msg: PulledMsg, event: UploadEvent, result: ResultEvent) {
    try {
      // Retried like the ack: during a bucket leader election the first tries time out.
      const record = JSON.stringify({ processed_at: new Date().toISOString() });
      await attempts(() => kv.put(event.event_id, record));
    } catch (err) {
      // The handler has run: acking without the record is better than running it again.
      log.warn("could not record {event_id} in {bucket}: {error}", {
        event_id: event.event_id,
        bucket: cfg.dedupe_bucket,
        error: (err as Error).message,
      });
    }
    await ack(msg);
    metrics.processed.inc();
    log.info("processed {event_id} ({stream}/{seq}) in {ms} ms", {
      event_id: event.event_id,
      stream: cfg.stream,
      seq: msg.info.streamSequence,
      ms: result.duration_ms,
    });
    if (cfg.publish_result && publisher) {
      // Not awaited: a missing result stream must not hold a worker for the publish deadline.
      publisher.publish({
        subject: cfg.publish_result,
        data: JSON.stringify(result),
        msgId: `${event.event_id}:result`,
      }).catch((err) => {
        log.error("result event for {event_id} not published to {subject}: {error}", {
          event_id: event.event_id,
          subject: cfg.publish_result,
          error: (err as Error).message,
        });
      });
    }
  }

  async function fail(msg: PulledMsg, failure: UploadFailure) {
    const seq = msg.info.streamSequence;
    const deliveries = msg.info.deliveryCount;
    if (failure.kind === "retry") {
      // Work cut short by shutdown goes back at once so another instance can take it.
      const delay = failure.reason === "shutdown" ? 0 : retryDelay(cfg.retry.backoff, deliveries);
      nakAfter(msg, delay);
      metrics.retried.inc({ reason: failure.reason });
      log.warn("{stream}/{seq} will be retried in {delay} ms (delivery {n}): {reason}: {error}", {
        stream: cfg.stream,
        seq,
        delay,
        n: deliveries,
        reason: failure.reason,
        error: failure.message,
      });
      return;
    }
    const reason = `${failure.reason}: ${failure.message}`;
    if (dlq && publisher) {
      const letter: DeadLetter = {
        stream: cfg.stream,
        consumer: cfg.consumer,
        subject: msg.subject,
        seq,
        deliveries,
        reason,
        data: msg.data,
        headers: msg.headers,
      };
      try {
        await deadLetter(publisher, dlq, letter);
      } catch (err) {
        // Without its DLQ copy the message must not be terminated: try again later.
        const delay = retryDelay(cfg.retry.backoff, deliveries);
        nakAfter(msg, delay);
        metrics.retried.inc({ reason: "dlq_unavailable" });
        log.error(
          "{stream}/{seq} failed ({reason}) but the DLQ {dlq} did not take it: " +
            "{error}; retrying in {delay} ms",
          {
            stream: cfg.stream,
            seq,
            reason,
            dlq: dlq.stream,
            error: (err as Error).message,
            delay,
          },
        );
        return;
      }
    }
    terminate(msg, reason, ctx.nats.serverVersion());
    metrics.failed.inc({ reason: failure.reason });
    log.error("{stream}/{seq} failed for good and was terminated ({where}): {reason}", {
      stream: cfg.stream,
      seq,
      where: dlq ? `copied to DLQ ${dlq.stream}` : "no DLQ configured",
      reason,
    });
  }

  async function removeFile(file: string) {
    await Deno.remove(file).catch(() => {});
    await Deno.remove(dirname(file)).catch(() => {/* not empty: another file of the upload */});
  }

  async function stop(deadline: number) {
    const untilDeadline = (p: Promise<unknown>) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const expired = new Promise((
        r,
      ) => (timer = setTimeout(r, Math.max(0, deadline - Date.now()))));
      return Promise.race([p, expired]).finally(() => clearTimeout(timer));
    };
    await untilDeadline(Promise.allSettled([puller?.stop(deadline), ...inFlight]));
    if (inFlight.size > 0) {
      log.warn("grace period over: stopping {n} unfinished uploads and giving them back", {
        n: inFlight.size,
      });
      abort.abort();
      await Promise.allSettled([...inFlight]);
    }
    await publisher?.close(Math.max(deadline, Date.now() + 1000));
  }

  return {
    name: "upload_processor",
    start,
    stop: (deadline) => stop(deadline).catch((err) => log.error("stop: {error}", { error: err })),
    notReadyReason: () => (started ? undefined : "starting"),
  };
}
