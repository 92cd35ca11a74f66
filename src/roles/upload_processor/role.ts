/**
 * The `upload_processor` role: a durable pull consumer of "file uploaded" events. For each event
 * it downloads (and decrypts) the object from S3-compatible storage, runs the configured handler,
 * then acks, naks with backoff, or dead-letters and terminates (`worker.ts`, `outcome.ts`).
 *
 * `concurrency` workers share one durable consumer through one long-lived pull subscription
 * (`puller.ts`); each pull asks for as many messages as there are free workers, so this process
 * never holds more unacked messages than it can work on; a success finishes (`done`, result, ack)
 * behind its worker (`finishing.ts`), at most as many as there are workers, all within the
 * consumer's `max_ack_pending`. Several processes may share the durable: claims in the dedupe
 * bucket (`dedupe.ts`) keep them from running the handler for one event at once, and the circuit
 * breaker (`breaker.ts`) stops pulling while S3 or the http handler is down. This file is the
 * wiring.
 * @module
 */
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { dlqTarget } from "../../nats/dlq.ts";
import { createPublisher, type Publisher } from "../../nats/publisher.ts";
import { createReplies, type Replies } from "../../nats/replies.ts";
import { supports } from "../../nats/version.ts";
import { beforeDeadline } from "../../platform/delay.ts";
import type { Role, RoleContext } from "../role.ts";
import { type Breaker, createBreaker } from "./breaker.ts";
import type { UploadProcessorConfig } from "./config.ts";
import { consumerPause } from "./consumer_pause.ts";
import { createDedupe } from "./dedupe.ts";
import { loadMasterKey } from "./envelope.ts";
import { createFinishing, type Finishing } from "./finishing.ts";
import { createHandler, handlerProbe } from "./handler.ts";
import { uploadMetrics } from "./metrics.ts";
import { limitsFor } from "./limits.ts";
import { createOutcomes, type Outcomes } from "./outcome.ts";
import type { PulledMsg } from "./pulled.ts";
import { createPuller, type Puller } from "./puller.ts";
import { resolveS3Settings, s3Getter } from "./s3.ts";
import { ensureConsumer, ensureDedupeBucket } from "./setup.ts";
import { createWorker } from "./worker.ts";

/** Consecutive pull failures after which the role asks the supervisor for a restart. */
const MAX_PULL_FAILURES = 10;

/** What a started role holds. */
interface Running {
  puller: Puller;
  outcomes: Outcomes;
  publisher: Publisher;
  breaker: Breaker;
  replies: Replies;
}

/** Creates the role from its context and its config section. */
export function createUploadProcessor(ctx: RoleContext, cfg: UploadProcessorConfig): Role {
  const { log } = ctx;
  const metrics = uploadMetrics(ctx.metrics);
  const dlq = dlqTarget(ctx.config);
  const stopping = new AbortController(); // fired when stop begins: no new work, waits end
  const abort = new AbortController(); // fired at the grace deadline: kills what still runs
  const inFlight = new Set<Promise<void>>();
  let finishing: Finishing | undefined; // successes finishing behind the workers
  let running: Running | undefined;

  async function start() {
    const s3 = s3Getter(resolveS3Settings(cfg.s3));
    const masterKey = cfg.decrypt ? await loadMasterKey(cfg.decrypt) : undefined;
    await Deno.mkdir(cfg.download_dir, { recursive: true });
    const nc = await ctx.nats.ready;
    const jsm = await jetstreamManager(nc);
    const js = jetstream(nc);
    const version = () => ctx.nats.serverVersion();
    const limits = limitsFor(cfg, await ensureConsumer(jsm, cfg, ctx.config), log);
    const bucket = await ensureDedupeBucket(
      js,
      jsm,
      cfg.dedupe_bucket,
      cfg.dedupe_ttl,
      supports(version() ?? "0.0.0", "messageTtl"),
    );
    const publisher = createPublisher(nc, { metrics: ctx.metrics, name: "upload_processor" });
    const dedupe = createDedupe(bucket.kv, publisher, {
      bucket: cfg.dedupe_bucket,
      claimTtlMs: limits.claimTtlMs,
      perKeyTtl: bucket.perKeyTtl,
      owner: crypto.randomUUID(),
    });
    const outcomes = createOutcomes({
      cfg,
      log,
      metrics,
      publisher,
      dlq,
      serverVersion: version,
      ackTimeoutMs: limits.ackTimeoutMs,
      maxDeliveries: limits.maxDeliveries,
      abort: abort.signal,
    });
    const probeHandler = handlerProbe(cfg.handler);
    const pause = cfg.circuit_breaker.pause_consumer
      ? consumerPause(jsm, cfg.stream, cfg.consumer, version)
      : undefined;
    const breaker = createBreaker({
      threshold: cfg.circuit_breaker.failures,
      probeBackoff: cfg.circuit_breaker.probe_backoff,
      probe: (dependency, signal) => dependency === "s3" ? s3.probe(signal) : probeHandler(signal),
      hold: pause?.hold,
      release: pause?.release,
      onClose: () => running?.puller.fill(),
      log,
      openGauge: metrics.circuitOpen,
      opened: metrics.circuitOpened,
    });
    finishing = createFinishing(limits.finishing);
    const work = createWorker({
      cfg,
      log,
      metrics,
      s3,
      masterKey,
      handler: createHandler(cfg.handler),
      dedupe,
      breaker,
      outcomes,
      heartbeatMs: limits.heartbeatMs,
      stopping: stopping.signal,
      abort: abort.signal,
      finishing,
    });
    if (!dlq) {
      log.warn(
        "no roles.dlq_redriver configured: failed uploads are terminated with a logged " +
          "reason, not kept in a DLQ",
      );
    }
    log.info("consuming {stream}/{consumer} with {n} workers into {dir}", {
      stream: cfg.stream,
      consumer: cfg.consumer,
      n: limits.workers,
      dir: cfg.download_dir,
    });
    const dispatch = (msg: PulledMsg) => {
      const job = work(msg).finally(() => {
        inFlight.delete(job);
        metrics.inFlight.set(inFlight.size);
        running?.puller.fill();
      });
      inFlight.add(job);
      metrics.inFlight.set(inFlight.size);
    };
    const replies = createReplies(nc);
    const puller = createPuller({
      nc,
      replies,
      stream: cfg.stream,
      consumer: cfg.consumer,
      expires: cfg.fetch_wait,
      limit: limits.workers,
      busy: () => inFlight.size,
      held: () => breaker.open,
      deliver: dispatch,
      onFailures: (n, err) => {
        if (n >= MAX_PULL_FAILURES) ctx.crash(err);
      },
      log,
    });
    running = { puller, outcomes, publisher, breaker, replies };
  }

  async function stop(deadline: number) {
    stopping.abort();
    running?.breaker.close();
    const workers = [...inFlight];
    const settled = async () => {
      await Promise.allSettled(workers);
      await finishing?.idle();
    };
    await beforeDeadline(Promise.allSettled([running?.puller.stop(deadline), settled()]), deadline);
    const unfinished = inFlight.size + (finishing?.size ?? 0);
    if (unfinished > 0) {
      log.warn("grace period over: stopping {n} unfinished uploads and giving them back", {
        n: unfinished,
      });
      abort.abort();
      await settled();
    }
    if (running) await beforeDeadline(running.outcomes.confirmed(), deadline);
    await running?.publisher.close(Math.max(deadline, Date.now() + 1000));
    running?.replies.close();
  }

  return {
    name: "upload_processor",
    start,
    stop: (deadline) => stop(deadline).catch((err) => log.error("stop: {error}", { error: err })),
    notReadyReason: () => running ? running.breaker.reason() : "starting",
  };
}
