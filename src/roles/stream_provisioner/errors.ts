/**
 * Errors of provisioning that are not the server's: the declarations cannot work with this
 * server (a feature it lacks, a consumer on a stream that exists nowhere). Raised before any
 * JetStream call changes anything. Also how the server's errors are told apart (not found, no
 * answer), for the places that treat them differently.
 * @module
 */

/** Why provisioning cannot start; `problems` lists each one, naming the object. */
export class ProvisionError extends Error {
  /** `UNSUPPORTED_FEATURE` or `INVALID_DECLARATION`. */
  readonly code: "UNSUPPORTED_FEATURE" | "INVALID_DECLARATION";
  /** Every problem found, one line each. */
  readonly problems: string[];

  /** Creates the error from its problems. */
  constructor(code: ProvisionError["code"], problems: string[]) {
    const head = code === "UNSUPPORTED_FEATURE"
      ? "the declarations need a newer nats-server; nothing was changed"
      : "the declarations do not fit this server; nothing was changed";
    super(`${head}:\n${problems.map((p) => `  ${p}`).join("\n")}`);
    this.name = "ProvisionError";
    this.code = code;
    this.problems = problems;
  }
}

/** The server answered "stream not found" (JetStream error 10059). */
export function isStreamNotFound(err: unknown): boolean {
  return (err as { code?: number })?.code === 10059 || /not found/i.test(String(err));
}

/** A request that timed out or found no responder: in a cluster, a stream without a leader. */
export function isNoAnswer(err: unknown): boolean {
  const e = err as { name?: string; code?: string | number; message?: string };
  return e?.name === "TimeoutError" || e?.name === "NoRespondersError" || e?.code === 503 ||
    /timeout|no responders/i.test(e?.message ?? "");
}
