/**
 * The daemon's one NATS connection: options from config, reconnect with exponential backoff and
 * jitter (forever with `max_attempts: -1`), state changes logged and exported as metrics. The
 * connection is opened in the background so the daemon starts while NATS is still down; a first
 * connection that fails says why (see `connect_failure.ts`) and is tried again.
 *
 * In a cluster the configured `servers` are only where to start: every server's INFO lists the
 * client URLs of the whole cluster (`connect_urls`), and nats.js adds them to its pool (and drops
 * the ones a later INFO no longer lists) unless `ignoreClusterUpdates` is set. So a daemon told
 * about one node fails over to the others when that node dies. Each disconnect and reconnect is
 * logged and counted per server (`nats_disconnects_total{server}`,
 * `nats_reconnects_total{server}`), and the pool's size is the `nats_known_servers` gauge (status
 * events: `connection_status.ts`).
 * @module
 */
import type { NatsConnection } from "@nats-io/nats-core";
import type { NatsConfig } from "../config/schema.ts";
import type { Registry } from "../http/metrics.ts";
import { logger } from "../platform/logging.ts";
import { beforeDeadline, DEADLINE_PASSED, delay } from "../platform/delay.ts";
import { NatsConnectError } from "./connect_failure.ts";
import { connectionOptions, splitServerCredentials } from "./connection_options.ts";
import { connectExplained } from "./connect_once.ts";
import {
  connectionMetrics,
  type ConnectionState,
  logPool,
  watchStatus,
} from "./connection_status.ts";

/** The shared connection as roles see it. */
export interface NatsHandle extends AsyncDisposable {
  /** Resolves with the connection once it is first established. */
  readonly ready: Promise<NatsConnection>;
  /** The connection, once established. */
  current(): NatsConnection | undefined;
  /** True while connected to a server. */
  connected(): boolean;
  /** Why the connection is not usable, or undefined when it is. */
  notReadyReason(): string | undefined;
  /** The connected server's version (`2.10.27`), once known. */
  serverVersion(): string | undefined;
  /**
   * Drains subscriptions and pending publishes until `deadline` (epoch ms; default: in
   * {@link CLOSE_GRACE_MS}), then closes the connection whatever the server does: a server that is
   * down, unreachable or slow never holds a stop past its grace. Safe to call more than once.
   */
  close(deadline?: number): Promise<void>;
}

/** How long {@link NatsHandle.close} drains when given no deadline. */
export const CLOSE_GRACE_MS = 5000;

/** Exponential backoff from `wait` doubling up to `maxWait`, plus up to `jitter` at random. */
export function backoffDelay(
  attempt: number,
  wait: number,
  maxWait: number,
  jitter: number,
): number {
  const base = Math.min(maxWait, wait * 2 ** Math.min(attempt, 20));
  return Math.round(base + Math.random() * jitter);
}

/** Opens the connection in the background; see {@link NatsHandle}. */
export function openConnection(cfg: NatsConfig, metrics: Registry): NatsHandle {
  const log = logger("nats");
  const stats = connectionMetrics(metrics);
  let nc: NatsConnection | undefined;
  let isConnected = false;
  const shown = splitServerCredentials(cfg.servers).servers.join(", ");
  let reason = `connecting to ${shown}`;
  let attempt = 0;
  let closing = false;
  const stopConnecting = new AbortController();
  const state: ConnectionState = {
    up() {
      isConnected = true;
      attempt = 0;
      reason = "";
      stats.connected.set(1);
    },
    down(why) {
      isConnected = false;
      reason = why;
      stats.connected.set(0);
    },
  };

  /**
   * The first connection is tried here rather than by nats.js (`waitOnFirstConnect`), so that each
   * failure is explained (a missing client certificate, refused credentials) in the log and in
   * `/readyz` instead of retried in silence, and a close ends the wait at once. Once connected,
   * nats.js reconnects on its own.
   */
  async function firstConnect(): Promise<NatsConnection> {
    const nats = await connectionOptions(cfg);
    const { wait, max_wait, jitter, max_attempts } = cfg.reconnect;
    nats.options.reconnectDelayHandler = () => backoffDelay(attempt++, wait, max_wait, jitter);
    log.info("connecting to {servers}", { servers: shown });
    let last = "";
    for (let tries = 1;; tries++) {
      try {
        return await connectExplained(nats, cfg);
      } catch (err) {
        if (closing || !(err instanceof NatsConnectError)) throw err;
        if (max_attempts >= 0 && tries > max_attempts) throw err;
        reason = `connecting to ${shown} (last attempt: ${err.reason})`;
        // The same failure again is news only at debug: a server down for an hour is one line.
        if (err.message !== last) log.error("{error} (retrying)", { error: err.message });
        else log.debug("{error} (retrying, attempt {tries})", { error: err.message, tries });
        last = err.message;
        await delay(backoffDelay(tries - 1, wait, max_wait, jitter), stopConnecting.signal);
        if (closing) throw new Error("closed before connecting");
      }
    }
  }

  const ready = (async () => {
    const conn = await firstConnect();
    if (closing) {
      // Closed while still connecting: this connection is no longer wanted.
      await conn.close();
      throw new Error("closed before connecting");
    }
    nc = conn;
    state.up();
    log.info("connected to {server} ({name}, nats-server {version})", {
      server: conn.getServer(),
      name: conn.info?.server_name ?? "?",
      version: conn.info?.version,
    });
    // The first INFO's cluster update happens inside connect(), before anyone listens: log it here.
    logPool(conn, stats, log);
    watchStatus(conn, stats, log, state);
    conn.closed().then((err) => {
      state.down("connection closed");
      if (err && !closing) log.error("connection closed: {error}", { error: err.message });
    });
    return conn;
  })();
  // Giving up (max_attempts reached) is the owner's to report: the daemon logs it and exits 1.
  ready.catch((err) => {
    if (!closing) reason = err.message;
  });

  /**
   * A drain waits for the server to confirm every pending message, so it only starts while
   * connected (during a reconnect it would wait for the server to come back, 58 s measured) and it
   * gets what is left of the deadline. Closing then ends the connection either way; what was not
   * confirmed stays with its owner: the watcher's outbox, or a consumer's unacked (redelivered)
   * message.
   */
  async function closeBy(deadline: number) {
    closing = true;
    stopConnecting.abort();
    const conn = nc;
    if (!conn) return; // never connected: the pending connect closes itself once it lands
    if (!conn.isClosed() && isConnected) {
      const drained = await beforeDeadline(conn.drain(), deadline);
      if (drained === DEADLINE_PASSED) log.warn("drain did not finish within the grace; closing");
    }
    if (!conn.isClosed()) await beforeDeadline(conn.close(), deadline + 1000);
    state.down("connection closed");
  }
  let closed: Promise<void> | undefined;
  const close = (deadline = Date.now() + CLOSE_GRACE_MS) => (closed ??= closeBy(deadline));

  return {
    ready,
    current: () => nc,
    connected: () => isConnected,
    notReadyReason: () => (isConnected ? undefined : reason),
    serverVersion: () => nc?.info?.version,
    close,
    [Symbol.asyncDispose]: () => close(),
  };
}
