/**
 * The one resilient pull loop over a durable JetStream consumer. Every consuming role needs the
 * same survival kit, and it is easy to get subtly wrong when written inline (docs/nats-notes.md
 * "Clusters"): when the node leading the consumer dies, a pull waiting on it is simply gone (the
 * new leader does not know it), so the loop pulls again as soon as a new leader is elected (its
 * advisory), after two missed idle heartbeats, or at once after a 503 "no responders"; a consumer
 * or stream that disappears ends the pull and `prepare` runs again (recreate it); errors an
 * election causes (timeouts, no responders, "temporarily unavailable") are retried within
 * seconds, others with a longer backoff; and a stop ends every wait at once.
 *
 * What to do with the messages is the caller's: `handle` gets batches of whatever has arrived (up
 * to `batch`), so a slow step per batch (write and flush a file) serves everything that queued up
 * behind it. Adopting it for a consume loop:
 *
 * ```ts
 * await using consumer = startDurableConsumer({
 *   nats: ctx.nats, stream, consumer: name, batch: 256, log,
 *   prepare: async ({ jsm }) => { await ensureMyConsumer(jsm); },   // runs before every pull
 *   handle: async (batch) => { for (const m of batch) { await work(m); m.ack(); } },
 *   onRepull: () => resendRecentAcks(),   // the old leader may have lost the last acks
 * });
 * consumer.closed.catch((err) => ctx.crash(err));   // a fatal error (isFatal, or handle threw)
 * // readiness: consumer.notReadyReason()
 * // shutdown: await beforeDeadline(consumer.stop(), deadline)
 * ```
 * @module
 */
import type { NatsConnection } from "@nats-io/nats-core";
import {
  type ConsumerMessages,
  jetstream,
  type JetStreamClient,
  type JetStreamManager,
  jetstreamManager,
  type JsMsg,
} from "@nats-io/jetstream";
import type { Logger } from "@logtape/logtape";
import { delay } from "../platform/delay.ts";
import { batches } from "./batches.ts";
import { backoffDelay } from "./connection.ts";
import { isTransient } from "./errors.ts";
import { onLeaderElected } from "./leader_change.ts";

/**
 * Pull request expiry; heartbeats are half of it, so a pull lost with its consumer leader shows
 * as two missed heartbeats within ~6 s (when no leader-elected advisory said so first).
 */
const PULL_EXPIRES = 6_000;
/**
 * A pull that ends sooner than this after it started (a 503 mid-election) is followed by a pause.
 */
const MIN_PULL_LIFE = 1000;

/** The clients `prepare` gets, on the current connection. */
export interface ConsumerClients {
  /** The connection. */
  nc: NatsConnection;
  /** JetStream client. */
  js: JetStreamClient;
  /** JetStream manager. */
  jsm: JetStreamManager;
}

/** Options of {@link startDurableConsumer}. */
export interface DurableConsumerOptions {
  /** Resolves with the connection (the daemon's `NatsHandle.ready`); nats.js reconnects it. */
  nats: { readonly ready: Promise<NatsConnection> };
  /** Stream name. */
  stream: string;
  /** Durable consumer name (it must exist once `prepare` returned). */
  consumer: string;
  /** Most messages per pull request and per batch given to `handle`. */
  batch: number;
  /** Where the loop says what it does (leader changes, retries). */
  log: Logger;
  /**
   * Runs before every pull, the first and each one after a leader change, a lost consumer or an
   * error: make sure the consumer (and what it needs) exists. A throw is retried with backoff,
   * unless `isFatal` says it is fatal.
   */
  prepare?(clients: ConsumerClients): Promise<void>;
  /**
   * Handles one batch (1..`batch` messages, in delivery order) and settles every message in it
   * (ack, nak or term), or takes them to settle later (then give `drain`). Not called once
   * stopping: messages that arrive then are naked. A throw ends the loop:
   * {@link DurableConsumer.closed} rejects with it.
   */
  handle(batch: JsMsg[]): void | Promise<void>;
  /**
   * For a `handle` that settles batches after it returned (group commit): resolves when every
   * message it took is settled, rejects like a throw of `handle`. Awaited when a pull ends
   * (before the next one, and at stop).
   */
  drain?(): Promise<void>;
  /**
   * Called when a pull starts that follows an earlier one (a leader change, a lost consumer, an
   * error): the old consumer leader may have lost the last acks, so a caller that remembers them
   * can send them again.
   */
  onRepull?(): void;
  /** Errors that end the loop (a configuration error) instead of being retried. */
  isFatal?(err: unknown): boolean;
  /** Pull request expiry in ms (idle heartbeats every half of it). Default 6 s. */
  expires?: number;
}

/** A running durable consumer loop; see {@link startDurableConsumer}. */
export interface DurableConsumer extends AsyncDisposable {
  /**
   * Settles when the loop has ended: resolves after {@link DurableConsumer.stop}, rejects with
   * the error that ended it otherwise (fatal per `isFatal`, or thrown by `handle`).
   */
  readonly closed: Promise<void>;
  /** Undefined while consuming; otherwise why not (for `/readyz`). */
  notReadyReason(): string | undefined;
  /** Ends the current pull and pulls again (e.g. the caller learnt of a leader change). */
  repull(why: string): void;
  /**
   * Stops intake: the batch in hand is handled to its end, messages behind it are naked, and no
   * further pull is made. Resolves when the loop has ended (never rejects); bound it with
   * `beforeDeadline` from `src/platform/delay.ts`.
   */
  stop(): Promise<void>;
}

/** Starts pulling from `options.stream`/`options.consumer` at once; see the module doc. */
export function startDurableConsumer(options: DurableConsumerOptions): DurableConsumer {
  const { stream, consumer, log } = options;
  const where = `${stream}/${consumer}`;
  const stopping = new AbortController();
  let pulling: ConsumerMessages | undefined;
  let notReady: string | undefined = `waiting for consumer ${where}`;
  let stopLeaderWatch: (() => void) | undefined;

  /** Ends `iter` when its consumer is gone, its pull was lost, or no leader answers. */
  async function watch(iter: ConsumerMessages): Promise<void> {
    for await (const s of iter.status()) {
      switch (s.type) {
        case "heartbeat":
          if (!stopping.signal.aborted) notReady = undefined;
          break;
        case "consumer_deleted":
        case "consumer_not_found":
        case "stream_not_found":
          notReady = `consumer ${where} is gone (${s.type})`;
          log.warn("consumer {where} is gone ({what}); recreating it", { where, what: s.type });
          iter.close();
          return;
        case "no_responders":
          notReady = `consumer ${where} has no leader`;
          log.warn("consumer {where} has no leader (503); pulling again", { where });
          iter.close();
          return;
        case "heartbeats_missed":
          notReady = `no heartbeats from consumer ${where}`;
          log.warn("missed {count} heartbeats from consumer {where}; pulling again", {
            count: s.count,
            where,
          });
          iter.close();
          return;
        case "exceeded_limits":
          log.warn("pull request for {where} refused: {description}", {
            where,
            description: s.description,
          });
          break;
      }
    }
  }

  /** Hands what `iter` delivers to `handle` in batches until the pull ends. */
  async function consume(iter: ConsumerMessages): Promise<void> {
    try {
      for await (const batch of batches(iter, options.batch)) {
        if (stopping.signal.aborted) {
          // Intake stopped: give them back for another instance or the next start.
          for (const msg of batch) msg.nak();
          continue;
        }
        await options.handle(batch);
        notReady = undefined;
      }
    } finally {
      await options.drain?.();
    }
  }

  async function run(): Promise<void> {
    let failures = 0;
    let pulls = 0;
    while (!stopping.signal.aborted) {
      try {
        const nc = await options.nats.ready;
        stopLeaderWatch ??= onLeaderElected(nc, stream, consumer, () => {
          if (pulling) repull("it has a new leader");
        });
        const js = jetstream(nc);
        await options.prepare?.({ nc, js, jsm: await jetstreamManager(nc) });
        if (stopping.signal.aborted) return;
        const iter = await (await js.consumers.get(stream, consumer)).consume({
          max_messages: options.batch,
          expires: options.expires ?? PULL_EXPIRES,
        });
        pulling = iter;
        if (stopping.signal.aborted) iter.close(); // stop() came while the pull was being set up
        const startedAt = Date.now();
        if (failures > 0) log.info("consuming {where} again", { where });
        if (pulls++ > 0) options.onRepull?.();
        failures = 0;
        notReady = undefined;
        watch(iter).catch((err) => {
          log.warn("consumer notifications of {where} ended: {error}", {
            where,
            error: err.message,
          });
          iter.close();
        });
        try {
          await consume(iter);
        } catch (err) {
          throw new HandleError(err);
        }
        const lived = Date.now() - startedAt;
        if (lived < MIN_PULL_LIFE) await delay(MIN_PULL_LIFE - lived, stopping.signal);
      } catch (err) {
        if (err instanceof HandleError) throw err.cause;
        if (stopping.signal.aborted) return;
        if (options.isFatal?.(err)) {
          notReady = (err as Error).message;
          throw err;
        }
        // An election takes seconds: retry those errors often; a missing stream may take long.
        const transient = isTransient(err);
        const wait = transient
          ? backoffDelay(failures++, 500, 4000, 250)
          : backoffDelay(failures++, 1000, 30_000, 250);
        notReady = `consumer ${where} unavailable: ${(err as Error).message}`;
        log.warn("consumer {where} unavailable: {error}{hint}; trying again in {delay} ms", {
          where,
          error: (err as Error).message,
          hint: transient ? " (a leader election or a node restarting?)" : "",
          delay: wait,
        });
        await delay(wait, stopping.signal);
      } finally {
        pulling?.close();
        pulling = undefined;
      }
    }
  }

  function repull(why: string): void {
    if (!pulling || stopping.signal.aborted) return;
    log.info("consumer {where}: {why}; pulling again", { where, why });
    pulling.close();
  }

  const closed = run().finally(() => stopLeaderWatch?.());
  closed.catch(() => {}); // observed through `closed` by the caller

  async function stop(): Promise<void> {
    stopping.abort();
    // Ends the pull after what it already delivered: the batch in hand is finished, the rest naked.
    pulling?.close();
    await closed.catch(() => {});
  }

  return {
    closed,
    notReadyReason: () => notReady,
    repull,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

/** Carries an error thrown by `handle` past the loop's retry handling. */
class HandleError extends Error {
  constructor(cause: unknown) {
    super("handle failed", { cause });
  }
}
