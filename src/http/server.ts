/**
 * The HTTP endpoint: `/healthz` (alive), `/readyz` (connected and every role ready),
 * `/metrics` (Prometheus text: the registry, then the standard `process_*` metrics).
 * @module
 */
import type { Registry } from "./metrics.ts";
import { redact } from "../platform/redact.ts";
import { renderProcessMetrics } from "./process_metrics.ts";

/** What `/readyz` reports. */
export interface Readiness {
  /** True when NATS is connected and every enabled role is ready. */
  ready: boolean;
  /** Why not, per part (`nats`, role names). */
  reasons: Record<string, string>;
}

/** What the HTTP server needs from the daemon. */
export interface HttpOptions {
  /** Address to listen on. */
  hostname: string;
  /** Port; 0 picks a free one. */
  port: number;
  /** Current readiness. */
  readiness: () => Readiness;
  /** The metrics registry. */
  metrics: Registry;
  /** Extra metrics refreshed just before a scrape. */
  beforeScrape?: () => void | Promise<void>;
}

/** A running HTTP server. */
export interface HttpServer extends AsyncDisposable {
  /** The port actually bound. */
  port: number;
  /** Stops listening. */
  close(): Promise<void>;
}

function json(body: unknown, status: number): Response {
  return new Response(redact(JSON.stringify(body)) + "\n", {
    status,
    headers: { "content-type": "application/json" },
  });
}

/** Starts the HTTP server. */
export function startHttpServer(options: HttpOptions): HttpServer {
  const server = Deno.serve({
    hostname: options.hostname,
    port: options.port,
    onListen: () => {},
  }, async (req) => {
    const { pathname } = new URL(req.url);
    if (req.method !== "GET" && req.method !== "HEAD") return json({ error: "use GET" }, 405);
    switch (pathname) {
      case "/healthz":
        return json({ status: "ok" }, 200);
      case "/readyz": {
        const r = options.readiness();
        return json(
          { status: r.ready ? "ready" : "not ready", reasons: r.reasons },
          r.ready ? 200 : 503,
        );
      }
      case "/metrics":
        await options.beforeScrape?.();
        return new Response(options.metrics.render() + await renderProcessMetrics(), {
          headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
        });
      default:
        return json({ error: "not found", endpoints: ["/healthz", "/readyz", "/metrics"] }, 404);
    }
  });
  const close = async () => {
    await server.shutdown();
  };
  return { port: server.addr.port, close, [Symbol.asyncDispose]: close };
}
