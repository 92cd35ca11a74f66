/**
 * Pulls messages from a durable pull consumer for a pool of workers, on ONE subscription that
 * stays open for the role's lifetime.
 *
 * Why not nats.js `fetch()`: each fetch opens a new subscription, and a fresh fetch per freed
 * worker costs a subscription round trip per message. Why not nats.js `consume()`: it refills its
 * buffer when messages *arrive*, not when workers *free up*, so messages sit in its iterator
 * (unseen, without `working()` heartbeats) while every worker is busy; with long handlers they
 * outlive `ack_wait` and are redelivered elsewhere while still queued here.
 *
 * Here every pull request asks for at most the free workers' worth of messages: `requested`
 * (asked for, not yet arrived) plus the workers' own messages never exceeds the worker count, so a
 * message that arrives always has a worker, and this process never holds one it cannot work on.
 *
 * Requests carry an `idle_heartbeat`; the server answers an expired request with a 408 (or 409)
 * status saying how many of its messages it did not deliver, and those are asked for again. A
 * request can also vanish without an answer (its consumer leader died, the server restarted, the
 * connection dropped): when nothing (message or heartbeat) arrives for two heartbeats while
 * messages are outstanding, or after a reconnect, the count is reset and the free workers are asked
 * for again. If an old request still delivers after that, the surplus message is given back at
 * once (`nak`), never held.
 * @module
 */
import { createInbox, type Msg, type NatsConnection } from "@nats-io/nats-core";
import type { Logger } from "@logtape/logtape";
import { beforeDeadline } from "../../platform/delay.ts";
import type { Replies } from "../../nats/replies.ts";
import { type PulledMsg, pulledMsg } from "./pulled.ts";

/** Settings of {@link createPuller}. */
export interface PullerOptions {
  /** The connection. */
  nc: NatsConnection;
  /** Where the deliveries' confirmed acks get their replies. */
  replies: Replies;
  /** Stream and durable consumer. */
  stream: string;
  /** The durable pull consumer. */
  consumer: string;
  /** How long one pull request waits at the server (ms). */
  expires: number;
  /** Most messages worked on at once (the worker count). */
  limit: number;
  /** Messages being worked on now. */
  busy(): number;
  /** True while no new requests may go out (the circuit breaker is open); call `fill()` after. */
  held(): boolean;
  /** Takes a message that has a free worker; the callee acks, naks or terminates it. */
  deliver(msg: PulledMsg): void;
  /** Called when pulling failed this many times in a row (consumer gone, bad request...). */
  onFailures(count: number, error: Error): void;
  /** Logger. */
  log: Logger;
}

/** A running puller. */
export interface Puller {
  /** Asks for messages if workers are free; call whenever a worker finishes. */
  fill(): void;
  /**
   * Stops asking. Messages that still arrive are given back at once; resolves when no request is
   * outstanding any more, or at `deadline` (ms since epoch), then unsubscribes.
   */
  stop(deadline: number): Promise<void>;
  /** Messages asked for and not yet arrived. */
  readonly requested: number;
}

/** The heartbeat asked of the server: half the request's life (the server's limit), at most 1 s
 * so a lost request is noticed within about 2 s. */
export function heartbeatFor(expires: number): number {
  return Math.max(50, Math.min(1000, Math.floor(expires / 2)));
}

/** Starts pulling. */
export function createPuller(opts: PullerOptions): Puller {
  const { nc, log } = opts;
  const where = `${opts.stream}/${opts.consumer}`;
  const inbox = createInbox();
  const nextSubject = `$JS.API.CONSUMER.MSG.NEXT.${opts.stream}.${opts.consumer}`;
  const heartbeat = heartbeatFor(opts.expires);
  // Larger batches for many workers: fewer requests waiting at the server (its max_waiting).
  const minBatch = Math.max(1, Math.floor(opts.limit / 8));
  let requested = 0;
  let lastHeard = Date.now();
  let stopping = false;
  let connected = true;
  let failures = 0;
  let pausedUntil = 0;
  let scheduled = false;
  let settled: () => void = () => {};

  const sub = nc.subscribe(inbox, { callback: (_err, msg) => receive(msg) });

  function pull() {
    scheduled = false;
    if (stopping || !connected || Date.now() < pausedUntil || opts.held()) return;
    const want = opts.limit - opts.busy() - requested;
    if (want <= 0 || (want < minBatch && requested > 0)) return;
    requested += want;
    lastHeard = Date.now();
    nc.publish(
      nextSubject,
      JSON.stringify({
        batch: want,
        expires: opts.expires * 1e6,
        idle_heartbeat: heartbeat * 1e6,
      }),
      { reply: inbox },
    );
  }

  /** Coalesces the fills of workers that finish in the same turn into one request. */
  function fill() {
    if (scheduled) return;
    scheduled = true;
    queueMicrotask(pull);
  }

  function receive(msg: Msg) {
    lastHeard = Date.now();
    if (msg.subject === inbox) return status(msg);
    requested = Math.max(0, requested - 1);
    failures = 0;
    const pulled = pulledMsg(opts.replies, msg);
    if (!pulled) return;
    // Only after a reset (a request presumed lost that was not) can more arrive than was asked.
    if (stopping || opts.busy() >= opts.limit) pulled.nak();
    else opts.deliver(pulled);
    if (stopping && requested === 0) settled();
  }

  function status(msg: Msg) {
    const code = msg.headers?.code ?? 0;
    if (code === 100) {
      failures = 0; // idle heartbeat: a consumer leader holds our request
      return;
    }
    const left = Number(msg.headers?.get("Nats-Pending-Messages") || NaN);
    if ((code === 408 || code === 409) && Number.isFinite(left)) {
      // A request ended (expired, or the server gave up on it) with `left` undelivered.
      requested = Math.max(0, requested - left);
      if (code === 409) trouble(code, msg.headers?.description ?? "");
    } else if (code === 404 || code === 408) {
      return; // no messages / timeout of a request without counts: heartbeats tell the rest
    } else {
      // 400 bad request, 409 without counts (consumer deleted, leadership change, too many
      // waiting requests), 503 no responders: whatever was asked of this request is lost.
      requested = 0;
      trouble(code, msg.headers?.description ?? "");
    }
    if (stopping && requested === 0) settled();
    else fill();
  }

  function trouble(code: number, description: string) {
    failures++;
    pausedUntil = Date.now() + Math.min(failures * 500, 5000);
    setTimeout(fill, Math.min(failures * 500, 5000) + 10);
    const error = new Error(`pull from ${where}: ${code} ${description}`.trim());
    log.warn("{error} ({n} in a row); pulling again shortly", {
      error: error.message,
      n: failures,
    });
    opts.onFailures(failures, error);
  }

  // Two heartbeats without a word while messages are outstanding: the requests are gone.
  const watchdog = setInterval(() => {
    if (stopping || !connected || requested === 0) return;
    const silent = Date.now() - lastHeard;
    if (silent < 2 * heartbeat) return;
    log.info("no heartbeat from {where} for {ms} ms ({n} messages outstanding); pulling again", {
      where,
      ms: silent,
      n: requested,
    });
    requested = 0;
    fill();
  }, heartbeat);

  // The server forgets a disconnected client's requests; nats.js resubscribes the inbox.
  // (The iterator nats.js returns can be stopped, which its type does not say.)
  const statuses = nc.status() as ReturnType<NatsConnection["status"]> & { stop?(): void };
  (async () => {
    for await (const s of statuses) {
      if (s.type === "disconnect") connected = false;
      else if (s.type === "reconnect") {
        connected = true;
        requested = 0;
        if (stopping) settled();
        else fill();
      }
    }
  })();

  pull();

  return {
    fill,
    get requested() {
      return requested;
    },
    async stop(deadline) {
      stopping = true;
      clearInterval(watchdog);
      if (requested > 0 && connected) {
        // Each request ends by `expires`; its 408 may be lost with a dying server.
        const until = Math.min(deadline, Date.now() + opts.expires + 2 * heartbeat);
        await beforeDeadline(new Promise<void>((resolve) => (settled = resolve)), until);
      }
      sub.unsubscribe();
      statuses.stop?.();
    },
  };
}
