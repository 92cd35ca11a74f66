/**
 * The `dlq_redriver` role: captures the dead messages of every listed `stream/consumer` (also
 * consumers written by other teams, in other languages) into the DLQ stream with provenance, and
 * optionally redrives them automatically.
 *
 * Capture is durable: the sources' advisories (core NATS messages, lost when nobody listens) are
 * kept by the server in a small workqueue stream (`advisory_stream`), read by a durable consumer.
 * What happened while jetport was down is captured when it starts again. Without that stream
 * (`advisory_stream: null`, or another stream already takes `$JS.EVENT.ADVISORY.>`) the role
 * listens on core NATS, and advisories sent while no jetport runs are lost: the server keeps no
 * list of the messages a consumer gave up on, so they cannot be recovered afterwards.
 *
 * On a cluster the advisory stream's consumer rides out leader changes (docs/nats-notes.md
 * "Clusters"): it pulls again when its consumer elects a new leader, after two missed heartbeats
 * or a 503, retries what an election makes fail (timeouts, no responders) within seconds instead
 * of giving up on the advisory stream, and acks each advisory with the leader's confirmation, so
 * an ack lost with a dying leader does not leave the advisory waiting for `ack_wait`.
 * @module
 */
import {
  AckPolicy,
  type ConsumerMessages,
  DeliverPolicy,
  jetstream,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
  jetstreamManager,
  type JsMsg,
  RetentionPolicy,
  StorageType,
} from "@nats-io/jetstream";
import type { NatsConnection, Subscription } from "@nats-io/nats-core";
import type { Role, RoleContext } from "../role.ts";
import { advisoryStreamName, type DlqRedriverConfig } from "./config.ts";
import { type DlqTarget, dlqTarget, ensureDlqStream } from "../../nats/dlq.ts";
import { createPublisher, type Publisher } from "../../nats/publisher.ts";
import { backoffDelay } from "../../nats/connection.ts";
import { ackConfirmed, isTransient, onLeaderElected } from "../../nats/leader_change.ts";
import { supports, versionAtLeast } from "../../nats/version.ts";
import {
  type Advisory,
  AdvisoryError,
  advisorySubjects,
  capture,
  type CaptureContext,
  parseAdvisory,
} from "./capture.ts";
import { depthBySource, listEntries, sourceLabel } from "./entries.ts";
import { type RedriveContext, redriveMany } from "./redrive.ts";

/** Name of the durable consumer that reads the advisory stream. */
export const CAPTURE_CONSUMER = "jetport-dlq-capture";
/** How often the DLQ depth per source is read. */
const DEPTH_INTERVAL = 5_000;
/** Redelivery delay of an advisory whose capture failed (DLQ or source unreachable). */
const RETRY_DELAY = 5_000;
/** How long a stream's `allow_direct` is trusted before it is read again. */
const STREAM_INFO_TTL = 60_000;
/** Pull expiry of the advisory consumer: heartbeats every 3 s, a lost pull noticed within ~6 s. */
const PULL_EXPIRES = 6_000;
/** An advisory iterator that ends sooner than this after it started is followed by a pause. */
const MIN_ITERATOR_LIFE = 1000;
/**
 * How long the core-NATS backup waits for the advisory stream's path to capture an advisory
 * before it captures it itself (the stream had no leader to store it).
 */
const BACKUP_DELAY = 10_000;
const NANOS = 1_000_000;

/** Creates the dlq_redriver role. */
export function createDlqRedriver(ctx: RoleContext, cfg: DlqRedriverConfig): Role {
  const target: DlqTarget = dlqTarget(ctx.config)!;
  const log = ctx.log;
  const advisoryStream = advisoryStreamName(cfg);

  const m = ctx.metrics;
  const captured = m.counter(
    "dlq_captured_total",
    "Dead messages stored in the DLQ by capture, by source and kind",
  );
  const duplicates = m.counter(
    "dlq_capture_duplicates_total",
    "Advisories for messages the DLQ already held, by source",
  );
  const captureFailures = m.counter(
    "dlq_capture_failures_total",
    "Captures that failed and will be retried, by source",
  );
  const redriven = m.counter("dlq_redriven_total", "Entries redriven automatically, by source");
  const parked = m.gauge(
    "dlq_parked",
    "Entries auto-redrive leaves alone (max_redrives reached, or no payload), by source",
  );
  const depth = m.gauge("dlq_depth", "Entries in the DLQ, by source");

  let nc: NatsConnection | undefined;
  let jsm: JetStreamManager | undefined;
  let js: JetStreamClient | undefined;
  let publisher: Publisher | undefined;
  let stopping = false;
  let notReady: string | undefined = "starting";
  let messages: ConsumerMessages | undefined;
  const subs: Subscription[] = [];
  const loops: Promise<void>[] = [];
  const timers: ReturnType<typeof setTimeout>[] = [];
  const stopSignal = new AbortController();
  /** `stream:seq` of everything in (or put into) the DLQ: repeated advisories are skipped. */
  const inDlq = new Set<string>();
  const directCache = new Map<string, { direct: boolean; at: number }>();
  const knownSources = new Set(cfg.sources.map((s) => `${s.stream}/${s.consumer}`));
  const parkedLogged = new Set<number>();
  const backupTimers = new Set<ReturnType<typeof setTimeout>>();

  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      stopSignal.signal.addEventListener("abort", done, { once: true });
      function done() {
        clearTimeout(timer);
        resolve();
      }
    });

  async function allowDirect(stream: string): Promise<boolean> {
    const cached = directCache.get(stream);
    if (cached && Date.now() - cached.at < STREAM_INFO_TTL) return cached.direct;
    // A failed read (an election) is not cached: a wrong "no direct get" would send every read
    // to the stream leader for a minute.
    const info = await jsm!.streams.info(stream).catch(() => undefined);
    const direct = info?.config.allow_direct === true;
    if (info) directCache.set(stream, { direct, at: Date.now() });
    return direct;
  }

  function captureContext(): CaptureContext {
    return { jsm: jsm!, publisher: publisher!, target, allowDirect };
  }

  /** Captures one advisory. Returns false when it should be retried later. */
  async function handle(subject: string, data: Uint8Array, backup = false): Promise<boolean> {
    let adv: Advisory;
    try {
      adv = parseAdvisory(subject, data);
    } catch (err) {
      if (!(err instanceof AdvisoryError)) throw err;
      log.warn("ignoring advisory: {error}", { error: err.message });
      return true;
    }
    const source = `${adv.stream}/${adv.consumer}`;
    const key = `${adv.stream}:${adv.seq}`;
    if (inDlq.has(key)) {
      // The backup path finding what the advisory stream's path captured is the normal case.
      if (!backup) duplicates.inc({ source });
      return true;
    }
    try {
      const res = await capture(captureContext(), adv);
      inDlq.add(key);
      if (!res.stored) {
        duplicates.inc({ source });
        return true;
      }
      captured.inc({ source, kind: adv.kind });
      const what = (res.originalFound ? "stored" : "original gone; stored provenance only") +
        (backup ? " (from core NATS: the advisory stream did not store it)" : "");
      log.info(
        "dead message {stream} seq {seq} ({kind}, {deliveries} deliveries): {what} " +
          "as DLQ seq {dlqSeq}",
        { ...adv, what, dlqSeq: res.dlqSeq },
      );
      return true;
    } catch (err) {
      captureFailures.inc({ source });
      log.error("cannot capture dead message {stream} seq {seq}: {error}; retrying", {
        stream: adv.stream,
        seq: adv.seq,
        error: (err as Error).message,
      });
      return false;
    }
  }

  /** Says which behaviours of this server limit capture, once at start. */
  function logServerLimits() {
    const version = ctx.nats.serverVersion() ?? "0.0.0";
    if (!supports(version, "termReason")) {
      log.warn(
        "nats-server {version}: terminated-message advisories carry no reason (needs " +
          "nats-server 2.10.4 or newer), so entries captured from a consumer's term say only " +
          '"terminated by consumer"',
        { version },
      );
    }
    if (!versionAtLeast(version, "2.10.0")) {
      log.warn(
        "nats-server {version}: a pull consumer gets its max-deliveries advisory only while a " +
          "pull request is waiting (newer servers: 2.10 or later send it anyway); a consumer " +
          "that stops pulling leaves its last dead messages uncaptured until it pulls again",
        { version },
      );
    }
  }

  /** Reads the DLQ once: which (stream, seq) it already holds. */
  async function indexDlq() {
    const entries = await listEntries(js!, jsm!, target, {}, { headersOnly: true });
    for (const e of entries) {
      if (e.provenance) inDlq.add(`${e.provenance.stream}:${e.provenance.seq}`);
    }
    log.info("DLQ {dlq} holds {n} entries", { dlq: target.stream, n: entries.length });
  }

  /** Logs each source's consumer state: what a restart can and cannot account for. */
  async function reportSources() {
    for (const s of cfg.sources) {
      try {
        const info = await jsm!.consumers.info(s.stream, s.consumer);
        log.info(
          "source {source}: max_deliver {maxDeliver}, {redelivered} messages being redelivered, " +
            "{ackPending} awaiting ack",
          {
            source: `${s.stream}/${s.consumer}`,
            maxDeliver: info.config.max_deliver ?? -1,
            redelivered: info.num_redelivered,
            ackPending: info.num_ack_pending,
          },
        );
        if ((info.config.max_deliver ?? -1) < 1) {
          log.warn(
            "source {source} has no max_deliver: the server redelivers its failing messages " +
              "forever and sends no max-deliveries advisory; only terminated messages reach the DLQ",
            { source: `${s.stream}/${s.consumer}` },
          );
        }
      } catch (err) {
        log.warn("source {source}: {error}; its advisories are captured once it exists", {
          source: `${s.stream}/${s.consumer}`,
          error: (err as Error).message,
        });
      }
    }
  }

  /**
   * Makes the advisory stream take exactly the sources' advisories. False when it cannot (another
   * stream takes those subjects, no permission); throws what an election causes (timeouts, no
   * leader), which is retried: falling back to core NATS for good would lose advisories.
   */
  async function ensureAdvisoryStream(name: string): Promise<boolean> {
    const subjects = cfg.sources.flatMap((s) => advisorySubjects(s.stream, s.consumer));
    try {
      const info = await jsm!.streams.info(name).catch((err) => {
        if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound) {
          return undefined;
        }
        throw err;
      });
      if (!info) {
        await jsm!.streams.add({
          name,
          subjects,
          retention: RetentionPolicy.Workqueue,
          storage: StorageType.File,
          max_age: Math.round(cfg.max_age * NANOS),
          num_replicas: cfg.replicas,
          description: "jetport: consumer advisories waiting to be captured into the DLQ",
        });
        log.info("created advisory stream {name}", { name });
      } else if ([...info.config.subjects ?? []].sort().join() !== [...subjects].sort().join()) {
        await jsm!.streams.update(name, { ...info.config, subjects });
        log.info("advisory stream {name} now takes the advisories of {n} sources", {
          name,
          n: cfg.sources.length,
        });
      }
      await jsm!.consumers.add(name, {
        durable_name: CAPTURE_CONSUMER,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        ack_wait: 30_000 * NANOS,
        max_deliver: -1,
      });
      return true;
    } catch (err) {
      if (isTransient(err)) throw err;
      log.warn(
        "cannot keep advisories in stream {name}: {error}; listening on core NATS only, so " +
          "advisories sent while jetport is down are lost (set roles.dlq_redriver." +
          "advisory_stream to another name, or null to silence this)",
        { name, error: (err as Error).message },
      );
      return false;
    }
  }

  /**
   * Reads the advisory stream until stopped: recreates the consumer if it goes away, pulls again
   * after a consumer leader change. `ensured` false: the stream still has to be made sure of.
   */
  async function consumeAdvisories(name: string, ensured: boolean) {
    let failures = ensured ? 0 : 1;
    const stopLeaderWatch = onLeaderElected(nc!, name, CAPTURE_CONSUMER, () => {
      if (!messages || stopping) return;
      log.info("advisory consumer {name}/{consumer} has a new leader; pulling again", {
        name,
        consumer: CAPTURE_CONSUMER,
      });
      messages.close();
    });
    while (!stopping) {
      let startedAt = 0;
      try {
        if (failures > 0 && !await ensureAdvisoryStream(name)) throw new Error("stream unusable");
        const c = await js!.consumers.get(name, CAPTURE_CONSUMER);
        const iter = await c.consume({ max_messages: 256, expires: PULL_EXPIRES });
        messages = iter;
        startedAt = Date.now();
        notReady = undefined;
        failures = 0;
        watchAdvisoryConsumer(name, iter).then((gone) => {
          if (gone) failures++;
        });
        for await (const msg of iter) await settle(msg);
        const lived = Date.now() - startedAt;
        if (!stopping && lived < MIN_ITERATOR_LIFE) await pause(MIN_ITERATOR_LIFE - lived);
      } catch (err) {
        if (stopping) break;
        // An election takes seconds: retry those errors often.
        const delay = isTransient(err)
          ? backoffDelay(failures++, 500, 4000, 250)
          : backoffDelay(failures++, 1000, 30_000, 250);
        notReady = `advisory capture unavailable: ${(err as Error).message}`;
        log.warn("advisory capture unavailable: {error}; trying again in {delay} ms", {
          error: (err as Error).message,
          delay,
        });
        await pause(delay);
      } finally {
        messages = undefined;
      }
    }
    stopLeaderWatch();
  }

  /**
   * Ends `iter` when its consumer is gone (resolves true: recreate it) or its pull was lost with
   * a consumer leader (two missed heartbeats, or a 503 while no leader answers).
   */
  async function watchAdvisoryConsumer(name: string, iter: ConsumerMessages): Promise<boolean> {
    const what = { name, consumer: CAPTURE_CONSUMER };
    for await (const s of iter.status()) {
      if (["consumer_deleted", "consumer_not_found", "stream_not_found"].includes(s.type)) {
        log.warn("advisory consumer {name}/{consumer} is gone ({type}); recreating it", {
          ...what,
          type: s.type,
        });
        iter.close();
        return true;
      }
      if (s.type === "heartbeats_missed" || s.type === "no_responders") {
        log.warn("advisory consumer {name}/{consumer}: {type}; pulling again", {
          ...what,
          type: s.type,
        });
        iter.close();
        return false;
      }
    }
    return false;
  }

  async function settle(msg: JsMsg) {
    if (stopping) {
      msg.nak();
      return;
    }
    if (!await handle(msg.subject, msg.data)) {
      msg.nak(RETRY_DELAY);
      return;
    }
    // Confirmed by the consumer's leader: an ack lost with a dying leader would hold the advisory
    // until ack_wait (and capture it again, as a duplicate, after that).
    const ok = await ackConfirmed(nc!, msg, { signal: stopSignal.signal });
    if (!ok && !stopping) {
      log.warn(
        "ack of advisory {subject} not confirmed; it is captured again (a duplicate) " +
          "after ack_wait",
        { subject: msg.subject },
      );
    }
  }

  /**
   * Core subscriptions to the sources' advisories, one capture at a time, retried a few times on
   * failure. As the fallback (no advisory stream) they capture at once. Beside the advisory
   * stream (`backup`) they catch what the stream could not store: an advisory sent while the
   * stream elects a leader is not retried by the server, it is simply gone. Each is captured
   * after {@link BACKUP_DELAY} unless the stream's path captured it meanwhile.
   */
  function subscribeAdvisories(backup: boolean) {
    let chain = Promise.resolve();
    for (const s of cfg.sources) {
      for (const subject of advisorySubjects(s.stream, s.consumer)) {
        subs.push(nc!.subscribe(subject, {
          queue: CAPTURE_CONSUMER,
          callback: (_err, msg) => {
            if (!backup) enqueue();
            else {
              const timer = setTimeout(() => {
                backupTimers.delete(timer);
                enqueue();
              }, BACKUP_DELAY);
              backupTimers.add(timer);
            }
            function enqueue() {
              chain = chain.then(async () => {
                for (let attempt = 0; attempt < 5 && !stopping; attempt++) {
                  if (await handle(msg.subject, msg.data, backup)) return;
                  await pause(backoffDelay(attempt, 500, 10_000, 100));
                }
                log.error("gave up capturing advisory {subject}: {data}", {
                  subject: msg.subject,
                  data: msg.string(),
                });
              });
            }
          },
        }));
      }
    }
    loops.push((async () => {
      while (!stopping) await pause(1000);
      await chain;
    })());
    if (!backup) notReady = undefined;
  }

  async function refreshDepth() {
    try {
      const bySource = await depthBySource(jsm!, target);
      for (const source of new Set([...knownSources, ...bySource.keys()])) {
        depth.set(bySource.get(source) ?? 0, { source });
        knownSources.add(source);
      }
    } catch (err) {
      log.debug("cannot read DLQ depth: {error}", { error: (err as Error).message });
    }
  }

  /** Auto-redrive: every tick, redrives entries older than `delay`, parks those out of tries. */
  async function autoRedrive() {
    const { delay, max_redrives: max, rate } = cfg.redrive;
    const tick = Math.min(30_000, Math.max(1000, delay / 4));
    const rctx: RedriveContext = { publisher: publisher!, jsm: jsm!, target, direct: true };
    while (!stopping) {
      try {
        const entries = await listEntries(js!, jsm!, target, {}, { headersOnly: true });
        const now = Date.now();
        const parkedBySource = new Map<string, number>();
        const due: number[] = [];
        const sourceOf = new Map<number, string>();
        for (const e of entries) {
          const p = e.provenance;
          if (!p) continue;
          const source = sourceLabel(p);
          knownSources.add(source);
          if (p.missing || p.redrives >= max) {
            parkedBySource.set(source, (parkedBySource.get(source) ?? 0) + 1);
            if (!parkedLogged.has(e.dlqSeq)) {
              parkedLogged.add(e.dlqSeq);
              log.warn("DLQ seq {dlqSeq} ({source} seq {seq}) parked: {why}", {
                dlqSeq: e.dlqSeq,
                source,
                seq: p.seq,
                why: p.missing
                  ? "no payload (the original was gone)"
                  : `redriven ${p.redrives} times (max_redrives ${max})`,
              });
            }
            continue;
          }
          const failedAt = Date.parse(p.failedAt);
          if ((Number.isNaN(failedAt) ? e.time.getTime() : failedAt) + delay <= now) {
            due.push(e.dlqSeq);
            sourceOf.set(e.dlqSeq, source);
          }
        }
        for (const source of knownSources) parked.set(parkedBySource.get(source) ?? 0, { source });
        if (due.length) {
          const summary = await redriveMany(rctx, due, {
            rate,
            signal: stopSignal.signal,
            onEntry(seq, outcome, error) {
              if (outcome === "redriven") redriven.inc({ source: sourceOf.get(seq)! });
              if (error) log.error("auto-redrive: {error}", { error: error.message });
            },
          });
          log.info("auto-redrive: {n} entries redriven, {failed} failed", {
            n: summary.outcomes.redriven,
            failed: summary.outcomes.failed,
          });
        }
      } catch (err) {
        if (!stopping) {
          log.warn("auto-redrive pass failed: {error}", { error: (err as Error).message });
        }
      }
      await pause(tick);
    }
  }

  let ensured = false;
  /**
   * At start: true when the advisory stream is usable, or may be once the cluster answers (an
   * election now: the capture loop makes sure of it then); false when it cannot be used.
   */
  async function ensureOrLater(name: string): Promise<boolean> {
    try {
      ensured = await ensureAdvisoryStream(name);
      return ensured;
    } catch (err) {
      log.warn("advisory stream {name} not reachable yet: {error}; retrying in the background", {
        name,
        error: (err as Error).message,
      });
      return true;
    }
  }

  return {
    name: "dlq_redriver",
    async start() {
      nc = await ctx.nats.ready;
      jsm = await jetstreamManager(nc);
      js = jetstream(nc);
      publisher = createPublisher(nc, { metrics: ctx.metrics, name: "dlq_redriver" });
      logServerLimits();
      await ensureDlqStream(jsm, {
        target,
        maxAge: cfg.max_age,
        replicas: cfg.replicas,
        duplicateWindow: cfg.duplicate_window,
      });
      await indexDlq();
      await reportSources();
      if (cfg.sources.length === 0) {
        log.info("no sources: only direct DLQ entries from jetport's roles are kept");
        notReady = undefined;
      } else if (advisoryStream && await ensureOrLater(advisoryStream)) {
        log.info("capturing dead messages of {sources} via advisory stream {name}", {
          sources: [...cfg.sources.map((s) => `${s.stream}/${s.consumer}`)].join(", "),
          name: advisoryStream,
        });
        loops.push(consumeAdvisories(advisoryStream, ensured));
        subscribeAdvisories(true);
      } else {
        subscribeAdvisories(false);
        log.info("capturing dead messages of {sources} (core NATS advisories)", {
          sources: cfg.sources.map((s) => `${s.stream}/${s.consumer}`).join(", "),
        });
      }
      await refreshDepth();
      timers.push(setInterval(refreshDepth, DEPTH_INTERVAL));
      if (cfg.redrive.auto) loops.push(autoRedrive());
    },
    async stop(deadline) {
      stopping = true;
      stopSignal.abort();
      timers.forEach((t) => clearInterval(t));
      backupTimers.forEach((t) => clearTimeout(t));
      // The advisory in hand is captured and acked; those behind it are given back (nak).
      messages?.close();
      for (const sub of subs) sub.unsubscribe();
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        Promise.allSettled(loops),
        new Promise((r) => (timer = setTimeout(r, Math.max(0, deadline - Date.now())))),
      ]);
      clearTimeout(timer);
      await publisher?.close(deadline).catch(() => {});
    },
    notReadyReason: () => notReady,
  };
}
