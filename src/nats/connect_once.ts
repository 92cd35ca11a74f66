/**
 * Connecting with an explanation when it fails (`connect_failure.ts`): once, for a CLI command,
 * and each attempt of the daemon's first connect (`connection.ts`). Apart from the daemon's
 * connection so that a command that only connects does not load its logging, metrics and status
 * handling (about 10 ms of `jetport publish`'s start-up).
 * @module
 */
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/nats-core";
import type { NatsConfig } from "../config/schema.ts";
import { explainConnectFailure, NatsConnectError } from "./connect_failure.ts";
import { connectionOptions, type NatsOptions } from "./connection_options.ts";
import { catchingStrayErrors } from "../platform/stray_errors.ts";
import { coalesceWrites } from "./coalesced_writes.ts";
import { enableNoDelay } from "./no_delay.ts";
import { fastReads } from "./fast_reads.ts";

/**
 * One attempt to connect; a failure becomes a {@link NatsConnectError} that says why. A TLS alert
 * that surfaces as a stray error meanwhile is a better reason than the `timeout` nats.js reports.
 */
export async function connectExplained(
  nats: NatsOptions,
  cfg: NatsConfig,
): Promise<NatsConnection> {
  let stray: unknown;
  return await catchingStrayErrors(async () => {
    try {
      const nc = await connect(nats.options);
      enableNoDelay(nc);
      coalesceWrites(nc);
      fastReads(nc);
      return nc;
    } catch (err) {
      const why = await explainConnectFailure(
        stray ?? err,
        cfg,
        nats.servers,
        nats.credentialsFromUrl,
      );
      throw new NatsConnectError(nats.servers.join(", "), why);
    }
  }, (err) => (stray ??= err));
}

/**
 * Connects once, for a CLI command: fails fast when no server answers, instead of retrying in the
 * background like the daemon, with a {@link NatsConnectError} that says what failed.
 */
export async function connectOnce(cfg: NatsConfig): Promise<NatsConnection> {
  return await connectExplained(await connectionOptions(cfg), cfg);
}
