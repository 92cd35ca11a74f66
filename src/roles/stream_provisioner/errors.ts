/**
 * Errors of provisioning that are not the server's: the declarations cannot work with this
 * server (a feature it lacks, a consumer on a stream that exists nowhere). Raised before any
 * JetStream call changes anything. The server's errors are told apart in `src/nats/errors.ts`.
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
