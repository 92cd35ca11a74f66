/**
 * The daemon's safety net for errors nobody awaited.
 * @module
 */
import type { Logger } from "@logtape/logtape";

/**
 * A daemon must not die from an error nobody awaited: a socket write failing after its server
 * was killed (`EBADF` from the NATS transport) surfaces as an uncaught error event. It is logged,
 * and the connection's own reconnect and the supervisor's restarts recover from it.
 */
export function keepRunningOnStrayErrors(log: Logger): () => void {
  const onError = (event: ErrorEvent) => {
    event.preventDefault();
    log.error("uncaught error (daemon keeps running): {error}", {
      error: event.error instanceof Error
        ? event.error.message
        : String(event.error ?? event.message),
    });
  };
  const onRejection = (event: PromiseRejectionEvent) => {
    event.preventDefault();
    log.error("unhandled rejection (daemon keeps running): {error}", {
      error: event.reason instanceof Error ? event.reason.message : String(event.reason),
    });
  };
  globalThis.addEventListener("error", onError);
  globalThis.addEventListener("unhandledrejection", onRejection);
  return () => {
    globalThis.removeEventListener("error", onError);
    globalThis.removeEventListener("unhandledrejection", onRejection);
  };
}
