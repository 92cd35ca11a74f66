/**
 * The `monitor` role: a durable pull consumer that writes every file event to a log file (the
 * original adapter's text line, or JSON lines), exactly one line per event, and acks only after
 * the batch's lines are flushed and recorded. Its parts:
 * - `durable.ts` makes sure the consumer exists (created with `ack: explicit` when missing);
 * - `src/nats/durable_consumer.ts` pulls through leader changes, reconnects and a deleted
 *   consumer, and hands over batches;
 * - `batch_writer.ts` writes, flushes, records (`written.ts`) and acks a batch, and dead-letters
 *   what is not a file event;
 * - `output.ts` opens the log and its written-sequence journal (`written.ts`), cutting off lines
 *   a kill -9 left unrecorded (`log_tail.ts`): "one line per stream sequence" survives restarts;
 * - `reacks.ts` sends acks again that a dying consumer leader may have lost.
 * @module
 */
import { jetstream, type JetStreamManager } from "@nats-io/jetstream";
import type { Role, RoleContext } from "../role.ts";
import type { MonitorConfig } from "./config.ts";
import { jsonLine, parseFileEvent, textLine } from "./event_line.ts";
import { DurableError, ensureDurable, streamMissing } from "./durable.ts";
import { monitorMetrics } from "./metrics.ts";
import { createReacks } from "./reacks.ts";
import { openOutput } from "./output.ts";
import { createBatchWriter } from "./batch_writer.ts";
import { beforeDeadline } from "../../platform/delay.ts";
import { dlqTarget } from "../../nats/dlq.ts";
import { isStreamNotFound } from "../../nats/errors.ts";
import { type ConsumerClients, startDurableConsumer } from "../../nats/durable_consumer.ts";

/** How often consumer info is read (lag metrics, ack floor, stuck acks). */
const INFO_INTERVAL = 5_000;

/** A started monitor: what `stop` and `/readyz` need. */
interface RunningMonitor {
  stop(deadline: number): Promise<void>;
  notReadyReason(): string | undefined;
}

/** Creates the monitor role. */
export function createMonitor(ctx: RoleContext, cfg: MonitorConfig): Role {
  let running: RunningMonitor | undefined;
  return {
    name: "monitor",
    async start() {
      running = await startMonitor(ctx, cfg);
    },
    async stop(deadline) {
      await running?.stop(deadline);
      running = undefined;
    },
    notReadyReason: () => running ? running.notReadyReason() : "monitor not started",
  };
}

/** Opens the output, then starts consuming. */
async function startMonitor(ctx: RoleContext, cfg: MonitorConfig): Promise<RunningMonitor> {
  const { stream, consumer } = cfg;
  const where = `${stream}/${consumer}`;
  const log = ctx.log;
  const metrics = monitorMetrics(ctx.metrics, stream, consumer);
  const { file, written } = await openOutput(cfg, ctx.config.state_dir, log);
  log.info("writing events of {where} to {path} ({format})", {
    where,
    path: cfg.output.path,
    format: cfg.output.format,
  });

  const nc = await ctx.nats.ready;
  const reacks = createReacks();
  const dlq = dlqTarget(ctx.config);
  const writer = createBatchWriter({
    file,
    maxSize: cfg.output.rotate.max_size,
    written,
    reacks,
    metrics,
    log,
    format: (msg, payload, seq, received) => {
      const ev = parseFileEvent(payload);
      return cfg.output.format === "json"
        ? jsonLine(ev, { stream, seq, subject: msg.subject }, received)
        : textLine(ev, received);
    },
    dlq: dlq && { publisher: jetstream(nc), target: dlq },
    serverVersion: () => ctx.nats.serverVersion(),
  }, cfg.batch);

  const resend = (why: string) => {
    const n = reacks.resend(nc);
    if (n === 0) return;
    metrics.reacked(n);
    log.info("{why}: sent {n} acks of {where} again (those its old leader may have lost)", {
      why,
      n,
      where,
    });
  };

  let manager: JetStreamManager | undefined; // the latest, for the info poll
  /** Before every pull: the stream is the one the journal knows, and the consumer exists. */
  async function prepare({ jsm }: ConsumerClients): Promise<void> {
    manager = jsm;
    const streamInfo = await jsm.streams.info(stream).catch((err) => {
      throw isStreamNotFound(err) ? streamMissing({ stream }) : err;
    });
    if (await written.ofStream(streamInfo.created)) {
      log.warn("stream {stream} was created anew ({created}): its sequences start over", {
        stream,
        created: streamInfo.created,
      });
    }
    const resumeAt = written.floor() > 0 ? written.floor() + 1 : undefined;
    const { info, created } = await ensureDurable(jsm, {
      stream,
      consumer,
      filterSubject: cfg.filter_subject,
      startSeq: resumeAt,
      batch: cfg.batch,
    });
    if (created) {
      metrics.recreated();
      if (resumeAt) {
        log.warn("consumer {where} was missing; created it resuming at stream seq {seq}", {
          where,
          seq: resumeAt,
        });
      } else log.info("created consumer {where} (ack explicit, deliver all)", { where });
    }
    written.raiseFloor(info.ack_floor.stream_seq);
  }

  const pulling = startDurableConsumer({
    nats: ctx.nats,
    stream,
    consumer,
    batch: cfg.batch,
    log,
    prepare,
    handle: writer.write,
    drain: writer.drain,
    // Any pull after the first may follow a leader change: the old leader may have lost acks.
    onRepull: () => resend(`pulling ${where} again`),
    isFatal: (err) => err instanceof DurableError && err.code === "PUSH_CONSUMER",
  });
  let stopping = false;
  pulling.closed.catch((err) => {
    if (!stopping) ctx.crash(err);
  });

  let infoError: string | undefined;
  /** Lag metrics, the journal's floor, and acks a floor stuck a whole poll says were lost. */
  async function pollInfo(): Promise<void> {
    if (!manager) return;
    try {
      const info = await manager.consumers.info(stream, consumer);
      const floor = info.ack_floor.stream_seq;
      written.raiseFloor(floor);
      if (reacks.floorIs(floor, info.num_ack_pending)) {
        resend(`ack floor of ${where} stuck at ${floor}`);
      }
      metrics.consumerState(info.num_pending, info.num_ack_pending);
      infoError = undefined;
    } catch (err) {
      infoError = `cannot reach consumer ${where}: ${(err as Error).message}`;
    }
  }
  const infoTimer = setInterval(pollInfo, INFO_INTERVAL);

  return {
    async stop(deadline) {
      stopping = true;
      clearInterval(infoTimer);
      // The batch in hand is written, flushed and acked; messages behind it are naked.
      await beforeDeadline(pulling.stop(), deadline);
      await file.close().catch((err) => {
        log.error("closing {path}: {error}", { path: cfg.output.path, error: err.message });
      });
      written.close();
    },
    notReadyReason: () => pulling.notReadyReason() ?? infoError,
  };
}
