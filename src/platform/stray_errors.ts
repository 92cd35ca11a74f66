/**
 * Safety nets for errors nobody awaited: the daemon keeps running, a connect attempt explains them.
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

/**
 * Runs `work` with errors nobody awaited caught and passed to `onStray` instead of ending the
 * process. Deno's `node:tls` throws a TLS alert from the server (`received fatal alert:
 * BadCertificate`, when the server refuses the client certificate) as an uncaught error when it
 * arrives after nats.js stopped listening on the socket; for a CLI command that would be a stack
 * trace instead of an explanation.
 */
export async function catchingStrayErrors<T>(
  work: () => Promise<T>,
  onStray: (error: unknown) => void,
): Promise<T> {
  const onError = (event: ErrorEvent) => {
    event.preventDefault();
    onStray(event.error ?? event.message);
  };
  globalThis.addEventListener("error", onError);
  try {
    return await work();
  } finally {
    globalThis.removeEventListener("error", onError);
  }
}
