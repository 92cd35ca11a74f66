/**
 * The `watcher` role: one reconciling watch per configured directory, their events going through
 * one on-disk outbox to one publisher (in order, each with its `Nats-Msg-Id`). Ready once every
 * watch has finished its initial scan.
 * @module
 */
import { headers as newHeaders } from "@nats-io/nats-core";
import type { Role, RoleContext } from "../role.ts";
import { createPublisher, type Publisher, PublishError } from "../../nats/publisher.ts";
import { buildEvent, changeId, eventSubject, fileSha256 } from "./event.ts";
import { watcherMetrics } from "./metrics.ts";
import { openOutbox, type Outbox, type OutboxRecord } from "./outbox.ts";
import { paths } from "../../platform/paths.ts";
import { createWatch, type WatchFs, type WatchRunner } from "./watch.ts";
import type { Change } from "./tree.ts";
import type { WatchConfig, WatcherConfig } from "./config.ts";

/** How long the sender pauses after a publish failed for a retryable reason. */
const RETRY_PAUSE = 1000;

/**
 * The publisher's order keys of a record: its file, and for a rename the file it came from, so
 * the stream holds each file's events in the order they happened (see the publisher's docs).
 */
function orderKeys(rec: OutboxRecord): string[] | undefined {
  const c = rec.change;
  if (!c) return undefined;
  const keys = [JSON.stringify([c.watch, c.path])];
  if (c.oldPath !== undefined) keys.push(JSON.stringify([c.watch, c.oldPath]));
  return keys;
}

/** What the role can be given instead of the real thing (tests). */
export interface WatcherDeps {
  /** Opens the OS watcher of a root; default `Deno.watchFs`. */
  watchFs?: WatchFs;
}

/** Creates the watcher role. */
export function createWatcherRole(
  ctx: RoleContext,
  cfg: WatcherConfig,
  deps: WatcherDeps = {},
): Role {
  const stateDir = paths.join(ctx.config.state_dir, "watcher");
  const metrics = watcherMetrics(ctx.metrics);
  const host = Deno.hostname();
  let outbox: Outbox | undefined;
  let publisher: Publisher | undefined;
  let watches: WatchRunner[] = [];
  let notReady: string | undefined = "initial scan not done";
  let stopping = false;
  let sending: Promise<void> | undefined;
  let pauseUntil = 0;
  let lastFailureLog = 0;
  // The outbox depth gauge is refreshed on a timer: per event it cost more than the event.
  let depthTimer: ReturnType<typeof setTimeout> | undefined;
  // The outbox number each watch's saved snapshot includes; older records may be deleted.
  const savedN = new Map<string, number>();

  async function emit(watch: WatchConfig, root: () => string, change: Change, initial: boolean) {
    const msgId = changeId(watch.name, change);
    const sha256 = watch.checksum === "sha256" &&
        (change.type === "created" || change.type === "modified")
      ? await fileSha256(paths.fromKey(root(), change.path))
      : undefined;
    const event = buildEvent(watch, change, msgId, host, sha256);
    await outbox!.room();
    outbox!.append({
      subject: eventSubject(watch.subject, watch.name, change.type),
      msgId,
      data: JSON.stringify(event),
      headers: initial ? { "Jetport-Initial-Scan": "true" } : undefined,
      labels: { watch: watch.name, type: change.type },
      change: {
        watch: watch.name,
        type: change.type,
        path: change.path,
        oldPath: change.oldPath,
        state: change.state,
      },
    });
  }

  function onFailure(rec: OutboxRecord, err: unknown) {
    const code = err instanceof PublishError ? err.code : "unknown";
    if (code === "stream_error" || code === "invalid_ack") {
      // The stream will never take this event (too large, ...): say so and keep going.
      ctx.log.error("event {msgId} on {subject} dropped: {error}", {
        msgId: rec.msgId,
        subject: rec.subject,
        error: (err as Error).message,
      });
      outbox!.ack(rec.n);
      return;
    }
    if (stopping) return; // stays in the outbox for the next start
    pauseUntil = Date.now() + RETRY_PAUSE;
    outbox!.rewind();
    if (Date.now() - lastFailureLog > 10_000) {
      lastFailureLog = Date.now();
      ctx.log.warn("publishing file events failed ({error}); {depth} wait in the outbox", {
        error: (err as Error).message,
        depth: outbox!.depth,
      });
    }
  }

  async function sendLoop(out: Outbox, pub: Publisher) {
    while (true) {
      const rec = await out.next();
      if (!rec) return;
      while (!stopping && (!ctx.nats.connected() || Date.now() < pauseUntil)) {
        await new Promise((r) => setTimeout(r, 100));
      }
      if (stopping && !ctx.nats.connected()) return;
      await pub.room();
      let h;
      if (rec.headers) {
        h = newHeaders();
        for (const [k, v] of Object.entries(rec.headers)) h.set(k, v);
      }
      pub.publish({
        subject: rec.subject,
        data: rec.data,
        msgId: rec.msgId,
        headers: h,
        orderKeys: orderKeys(rec),
      }).then(
        () => {
          out.ack(rec.n);
          metrics.published.inc(rec.labels);
        },
        (err) => onFailure(rec, err),
      );
    }
  }

  return {
    name: "watcher",
    notReadyReason: () => notReady,
    async start() {
      stopping = false;
      await Deno.mkdir(paths.join(stateDir, "snapshots"), { recursive: true });
      const out = await openOutbox(paths.join(stateDir, "outbox"));
      outbox = out;
      metrics.outboxDepth.set(out.depth);
      depthTimer = setInterval(() => metrics.outboxDepth.set(out.depth), 250);
      if (out.depth > 0) {
        ctx.log.info("{depth} file events from the last run wait in the outbox", {
          depth: out.depth,
        });
      }
      const nc = await ctx.nats.ready;
      publisher = createPublisher(nc, {
        deadline: cfg.publish_deadline,
        metrics: ctx.metrics,
        name: "watcher",
      });
      sending = sendLoop(out, publisher);
      watches = cfg.watches.map((watch) => {
        const runner: WatchRunner = createWatch({
          watch,
          snapshotPath: paths.join(stateDir, "snapshots", `${watch.name}.json`),
          emit: (change, initial) => emit(watch, () => runner.root, change, initial),
          durable: () => out.flushed(),
          lastOutboxN: () => out.lastN(),
          replay: (n, fn) =>
            out.replay(n, (rec) => {
              if (rec.change?.watch === watch.name) fn(rec);
            }),
          saved: (n) => {
            savedN.set(watch.name, n);
            if (savedN.size === cfg.watches.length) out.retain(Math.min(...savedN.values()));
          },
          log: ctx.log,
          metrics,
          cookieInterval: cfg.cookie_interval,
          burstThreshold: cfg.burst_threshold,
          pollInterval: cfg.poll_interval,
          watchFs: deps.watchFs,
        });
        return runner;
      });
      await Promise.all(watches.map((w) => w.start()));
      notReady = undefined;
    },
    async stop(deadline) {
      notReady = "stopping";
      await Promise.all(watches.map((w) => w.stop()));
      if (outbox) {
        await outbox.flushed().catch(() => {});
        // Give the sender until the deadline to empty the outbox while NATS is there.
        while (outbox.depth > 0 && Date.now() < deadline - 200 && ctx.nats.connected()) {
          await new Promise((r) => setTimeout(r, 50));
        }
      }
      stopping = true;
      await publisher?.close(deadline);
      await outbox?.close().catch((err) =>
        ctx.log.error("cannot close the outbox: {error}", { error: (err as Error).message })
      );
      await sending;
      clearInterval(depthTimer);
      if (outbox) metrics.outboxDepth.set(outbox.depth);
      if (outbox && outbox.depth > 0) {
        ctx.log.info("{depth} file events stay in the outbox for the next start", {
          depth: outbox.depth,
        });
      }
    },
  };
}
