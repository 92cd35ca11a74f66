/**
 * The `watcher` role: one reconciling watch per configured directory (`watch.ts`), their events
 * (made by `emit.ts`) going through one on-disk outbox (`outbox.ts`) and the sender (`sender.ts`)
 * to one publisher, each with its `Nats-Msg-Id`, in order per file. Ready once every watch has
 * finished its initial scan.
 * @module
 */
import type { Role, RoleContext } from "../role.ts";
import { createPublisher, type Publisher } from "../../nats/publisher.ts";
import { createEmitter } from "./emit.ts";
import { watcherMetrics } from "./metrics.ts";
import { openOutbox, type Outbox } from "./outbox.ts";
import { type Sender, startSender } from "./sender.ts";
import { paths } from "../../platform/paths.ts";
import { createWatch, type WatchFs, type WatchRunner } from "./watch.ts";
import type { WatcherConfig } from "./config.ts";

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
  let sender: Sender | undefined;
  // The outbox depth gauge is refreshed on a timer: per event it cost more than the event.
  let depthTimer: ReturnType<typeof setTimeout> | undefined;
  // The outbox number each watch's saved snapshot includes; older records may be deleted.
  const savedN = new Map<string, number>();

  return {
    name: "watcher",
    notReadyReason: () => notReady,
    async start() {
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
      sender = startSender({
        outbox: out,
        publisher,
        connected: () => ctx.nats.connected(),
        log: ctx.log,
        metrics,
      });
      watches = cfg.watches.map((watch) => {
        const runner: WatchRunner = createWatch({
          watch,
          snapshotPath: paths.join(stateDir, "snapshots", `${watch.name}.json`),
          emit: createEmitter(watch, host, out, () => runner.root),
          durable: () => out.flushed(),
          lastOutboxN: () => out.lastN(),
          backlog: () => out.depth,
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
      const sent = sender?.stop();
      await publisher?.close(deadline);
      await outbox?.close().catch((err) =>
        ctx.log.error("cannot close the outbox: {error}", { error: (err as Error).message })
      );
      await sent;
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
