/**
 * The role interface every role implements, and the context the daemon hands it.
 * @module
 */
import type { Logger } from "@logtape/logtape";
import type { Config } from "./schemas.ts";
import type { Registry } from "../http/metrics.ts";
import type { NatsHandle } from "../nats/connection.ts";

/** A running part of the daemon with a lifecycle. */
export interface Role {
  /** The role's name (its key under `roles:`). */
  readonly name: string;
  /**
   * Starts the role; resolves once it is running. The NATS connection is established before this
   * is called, but may drop later (nats.js reconnects; roles must cope).
   */
  start(): Promise<void>;
  /**
   * Stops intake, lets in-flight work finish until `deadline` (ms since epoch), gives back
   * (naks) what could not finish, and flushes state. Must not throw.
   */
  stop(deadline: number): Promise<void>;
  /** Undefined when ready; otherwise why not (shown by `/readyz`). */
  notReadyReason(): string | undefined;
}

/** What a role gets from the daemon. */
export interface RoleContext {
  /** The whole parsed config. */
  readonly config: Config;
  /** The shared NATS connection (already connected when the role starts). */
  readonly nats: NatsHandle;
  /** The role's logger (category `jetport.<role>`). */
  readonly log: Logger;
  /** The daemon's metrics registry. */
  readonly metrics: Registry;
  /**
   * Reports a failure the role cannot recover from by itself; the supervisor stops the role and
   * starts it again with backoff.
   */
  crash(error: unknown): void;
}

/**
 * Creates a role from its context; the registry's factories find the role's section in
 * `ctx.config` and hand it, typed, to the role's own factory.
 */
export type RoleFactory = (ctx: RoleContext) => Role;
