/**
 * What the daemon's connection reports while it lives: nats.js status events (disconnect,
 * reconnect, lame duck, cluster changes, server errors) become log lines and metrics, and tell the
 * connection handle whether it is up. Kept apart from the connect/close lifecycle in
 * `connection.ts` so each reads on its own.
 * @module
 */
import type { Logger } from "@logtape/logtape";
import type { NatsConnection } from "@nats-io/nats-core";
import type { Counter, Gauge, Registry } from "../http/metrics.ts";
import { enableNoDelay } from "./no_delay.ts";

/** The connection's metrics. */
export interface ConnectionMetrics {
  /** `nats_connected`: 1 while connected. */
  connected: Gauge;
  /** `nats_known_servers`: the client's server pool. */
  knownServers: Gauge;
  /** `nats_reconnects_total{server}` */
  reconnects: Counter;
  /** `nats_disconnects_total{server}` */
  disconnects: Counter;
  /** `nats_lame_duck_total` */
  lameDuck: Counter;
  /** `nats_errors_total` */
  errors: Counter;
}

/** Registers the connection's metrics in `registry`. */
export function connectionMetrics(registry: Registry): ConnectionMetrics {
  const connected = registry.gauge("nats_connected", "1 while connected to a NATS server");
  connected.set(0);
  return {
    connected,
    knownServers: registry.gauge(
      "nats_known_servers",
      "Servers the client may fail over to: the configured ones plus those the cluster announces",
    ),
    reconnects: registry.counter(
      "nats_reconnects_total",
      "Reconnections to NATS, by the server reconnected to",
    ),
    disconnects: registry.counter("nats_disconnects_total", "Disconnections from NATS, by server"),
    // Unlabelled: exported at 0 from start, so the first notice shows in increase() and alerts.
    lameDuck: registry.counter("nats_lame_duck_total", "Lame-duck-mode notices from servers", {
      labels: {},
    }),
    errors: registry.counter("nats_errors_total", "Asynchronous errors reported by servers", {
      labels: {},
    }),
  };
}

/** The client's server pool as `host:port,...`. */
function pool(conn: NatsConnection): string {
  return conn.getServers().map((s) => s.listen).join(",");
}

/** Logs the cluster and the server pool (the first INFO's, which nobody hears as an event). */
export function logPool(conn: NatsConnection, metrics: ConnectionMetrics, log: Logger): void {
  metrics.knownServers.set(conn.getServers().length);
  if (conn.info?.cluster) {
    log.info("cluster {cluster}: known servers {known}", {
      cluster: conn.info.cluster,
      known: pool(conn),
    });
  }
}

/** How {@link watchStatus} tells the handle that the connection went down or came back. */
export interface ConnectionState {
  /** Connected again. */
  up(): void;
  /** Not usable, and why. */
  down(reason: string): void;
}

/** Follows `conn`'s status events until it closes; see the module doc. */
export async function watchStatus(
  conn: NatsConnection,
  metrics: ConnectionMetrics,
  log: Logger,
  state: ConnectionState,
): Promise<void> {
  for await (const s of conn.status()) {
    switch (s.type) {
      case "disconnect":
        state.down(`disconnected from ${s.server}`);
        metrics.disconnects.inc({ server: s.server });
        log.warn("disconnected from {server}; reconnecting", { server: s.server });
        break;
      case "reconnect":
        enableNoDelay(conn);
        state.up();
        metrics.reconnects.inc({ server: s.server });
        log.info("reconnected to {server} ({name}, nats-server {version})", {
          server: s.server,
          name: conn.info?.server_name ?? "?",
          version: conn.info?.version,
        });
        break;
      case "reconnecting":
        log.debug("reconnecting");
        break;
      case "ldm":
        metrics.lameDuck.inc();
        log.warn("server {server} entered lame duck mode; will move to another server", {
          server: s.server,
        });
        break;
      case "update":
        metrics.knownServers.set(conn.getServers().length);
        // Every reconnect's INFO re-announces the same servers: only changes are news.
        if (!s.added?.length && !s.deleted?.length) break;
        log.info("cluster servers changed: added {added}, removed {deleted}; known now: {known}", {
          added: s.added?.join(",") || "-",
          deleted: s.deleted?.join(",") || "-",
          known: pool(conn),
        });
        break;
      case "error":
        metrics.errors.inc();
        log.error("server error: {error}", { error: s.error?.message });
        break;
      case "staleConnection":
        log.warn("connection is stale (no PONGs); reconnecting");
        break;
    }
  }
}
