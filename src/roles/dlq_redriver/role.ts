/**
 * The `dlq_redriver` role: captures the dead messages of every listed `stream/consumer` (also
 * consumers written by other teams, in other languages) into the DLQ stream with provenance, and
 * optionally redrives them automatically. This file wires the parts:
 *
 * - `advisory_stream.ts`, `advisory_consumer.ts`: capture is durable. The sources' advisories
 *   are kept by the server in a small workqueue stream, read by a durable consumer, so what
 *   happened while jetport was down is captured when it starts again.
 * - `core_advisories.ts`: core-NATS subscriptions, the backup beside that stream (an advisory
 *   sent while it elects a leader is not stored) or the fallback without it.
 * - `keep_payload.ts`: payload mirrors of workqueue/interest sources, whose terminated messages
 *   the server deletes before capture could read them.
 * - `advisory_handler.ts`, `capture.ts`: one advisory → one DLQ entry.
 * - `auto_redrive.ts`: DLQ depth per source and auto-redrive.
 * @module
 */
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { Role, RoleContext } from "../role.ts";
import { advisoryStreamName, type DlqRedriverConfig } from "./config.ts";
import { dlqTarget, ensureDlqStream } from "../../nats/dlq.ts";
import { createPublisher } from "../../nats/publisher.ts";
import { beforeDeadline, delay } from "../../platform/delay.ts";
import { type DlqHandles, dlqMetrics } from "./handles.ts";
import { type AdvisoryHandler, createAdvisoryHandler } from "./advisory_handler.ts";
import { ensureAdvisoryStream } from "./advisory_stream.ts";
import { consumeAdvisories } from "./advisory_consumer.ts";
import type { DurableConsumer } from "../../nats/durable_consumer.ts";
import { subscribeAdvisories } from "./core_advisories.ts";
import { createPayloadMirrors, type PayloadMirrors } from "./keep_payload.ts";
import { autoRedrive, refreshDepth } from "./auto_redrive.ts";
import { logServerLimits, reportSources } from "./startup_report.ts";

export { CAPTURE_CONSUMER } from "./advisory_stream.ts";

/** How often the DLQ depth per source is read. */
const DEPTH_INTERVAL = 5_000;
/** How often a source whose payload mirror cannot be made yet (stream missing) is tried again. */
const MIRROR_RETRY = 10_000;

/** Creates the dlq_redriver role. */
export function createDlqRedriver(ctx: RoleContext, cfg: DlqRedriverConfig): Role {
  const target = dlqTarget(ctx.config) ??
    { stream: cfg.dlq_stream, subjectPrefix: cfg.subject_prefix };
  const log = ctx.log;
  const metrics = dlqMetrics(ctx.metrics, cfg.sources.map((s) => `${s.stream}/${s.consumer}`));
  const stopping = new AbortController();
  const loops: Promise<void>[] = [];
  let notReady: string | undefined = "starting";
  let running: DlqHandles | undefined;
  let advisories: DurableConsumer | undefined;

  /** Runs `fn` every `ms` until the role stops (never two at once, unlike setInterval). */
  async function every(ms: number, fn: () => Promise<unknown>, until = () => false) {
    while (!stopping.signal.aborted && !until()) {
      await delay(ms, stopping.signal);
      if (!stopping.signal.aborted) await fn();
    }
  }

  /** Starts capture: the advisory stream's consumer plus the core backup, or the fallback. */
  async function startCapture(h: DlqHandles, handler: AdvisoryHandler) {
    const name = advisoryStreamName(cfg);
    const sources = cfg.sources.map((s) => `${s.stream}/${s.consumer}`).join(", ");
    if (cfg.sources.length === 0) {
      log.info("no sources: only direct DLQ entries from jetport's roles are kept");
      notReady = undefined;
      return;
    }
    // undefined: not reachable yet (an election); the capture loop makes sure of it later.
    const usable = name
      ? await ensureAdvisoryStream(h, name).catch((err) => {
        log.warn("advisory stream {name} not reachable yet: {error}; retrying in the background", {
          name,
          error: (err as Error).message,
        });
        return undefined;
      })
      : false;
    if (name && usable !== false) {
      log.info("capturing dead messages of {sources} via advisory stream {name}", {
        sources,
        name,
      });
      advisories = consumeAdvisories(h, ctx.nats, name, handler);
      advisories.closed.catch((err) => ctx.crash(err));
      loops.push(subscribeAdvisories(h, handler, true));
    } else {
      loops.push(subscribeAdvisories(h, handler, false));
      log.info("capturing dead messages of {sources} (core NATS advisories)", { sources });
    }
    // From here on readiness is the advisory consumer's (when there is one).
    notReady = undefined;
  }

  /** Makes the payload mirrors, and keeps trying those whose source is not there yet. */
  async function startMirrors(h: DlqHandles, version: string): Promise<PayloadMirrors> {
    const mirrors = createPayloadMirrors({ jsm: h.jsm, cfg, log, serverVersion: version });
    await mirrors.ensure();
    if (mirrors.pending()) {
      loops.push(every(MIRROR_RETRY, mirrors.ensure, () => !mirrors.pending()));
    }
    return mirrors;
  }

  return {
    name: "dlq_redriver",
    async start() {
      const nc = await ctx.nats.ready;
      const h: DlqHandles = {
        nc,
        jsm: await jetstreamManager(nc),
        js: jetstream(nc),
        publisher: createPublisher(nc, { metrics: ctx.metrics, name: "dlq_redriver" }),
        cfg,
        target,
        log,
        metrics,
        signal: stopping.signal,
      };
      running = h;
      const version = ctx.nats.serverVersion() ?? "0.0.0";
      logServerLimits(h, version);
      await ensureDlqStream(h.jsm, {
        target,
        maxAge: cfg.max_age,
        replicas: cfg.replicas,
        duplicateWindow: cfg.duplicate_window,
      });
      const mirrors = await startMirrors(h, version);
      const handler = createAdvisoryHandler(h, mirrors.mirrorOf);
      await handler.index();
      await reportSources(h);
      await startCapture(h, handler);
      const known = new Set(cfg.sources.map((s) => `${s.stream}/${s.consumer}`));
      await refreshDepth(h, known);
      loops.push(every(DEPTH_INTERVAL, () => refreshDepth(h, known)));
      if (cfg.redrive.auto) loops.push(autoRedrive(h, known));
    },
    async stop(deadline) {
      stopping.abort();
      await beforeDeadline(Promise.allSettled([...loops, advisories?.stop()]), deadline);
      await running?.publisher.close(deadline).catch(() => {});
    },
    notReadyReason: () => notReady ?? advisories?.notReadyReason(),
  };
}
