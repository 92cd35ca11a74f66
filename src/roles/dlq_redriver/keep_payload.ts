/**
 * Payload mirrors: under workqueue or interest retention the server deletes a message as soon as
 * its consumer terminates it, before the advisory that tells the role about it is even sent. A
 * mirror of the source stream (`<dlq_stream>_KEEP_<stream>`) keeps every message for
 * `capture_window` (and at most `capture_max_bytes`) under the source's own sequence numbers, so
 * capture reads the terminated message from it byte for byte. The server removes a
 * workqueue/interest message only once the mirror's consumer has it too (docs/nats-notes.md
 * "Payload mirrors"), so a term cannot outrun the copy. The cost is a second copy of the
 * source's traffic for `capture_window`. Limits-retention sources keep their messages anyway and
 * get no mirror.
 * @module
 */
import type { Logger } from "@logtape/logtape";
import {
  DiscardPolicy,
  type JetStreamManager,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
} from "@nats-io/jetstream";
import { type DlqRedriverConfig, type DlqSource, keepStreamName } from "./config.ts";
import { isConsumerNotFound, isStreamNotFound, isTransient } from "../../nats/errors.ts";
import { versionAtLeast } from "../../nats/version.ts";

const NANOS = 1_000_000;

/** The payload mirrors of a role's sources. */
export interface PayloadMirrors {
  /** Creates or checks the mirrors not in place yet; safe to call again (it retries those). */
  ensure(): Promise<void>;
  /** The mirror of source stream `stream`, once it is in place. */
  mirrorOf(stream: string): string | undefined;
  /** True while some source's mirror is still to be made (its stream or consumer is missing). */
  pending(): boolean;
}

/** What the mirrors need. */
export interface PayloadMirrorDeps {
  /** Reads source streams, creates mirrors. */
  jsm: JetStreamManager;
  /** The role's config. */
  cfg: DlqRedriverConfig;
  /** The role's logger. */
  log: Logger;
  /** The server's version (2.9 cannot add consumers to a mirrored workqueue stream). */
  serverVersion: string;
}

/** Where one source stands. */
type State = "pending" | "ready" | "none";

/** Creates the payload mirrors of `deps.cfg.sources` (nothing happens before `ensure()`). */
export function createPayloadMirrors(deps: PayloadMirrorDeps): PayloadMirrors {
  const states = new Map<string, State>();
  const ready = new Map<string, string>();
  const said = new Set<string>();
  /** Logs `message` once per key: `ensure()` runs again while a source is pending. */
  const once = (key: string, message: string, props: Record<string, unknown>) => {
    if (said.has(key)) return;
    said.add(key);
    deps.log.warn(message, props);
  };

  async function ensureOne(source: DlqSource): Promise<State> {
    const { jsm, cfg, log } = deps;
    const label = `${source.stream}/${source.consumer}`;
    const info = await jsm.streams.info(source.stream).catch((err) => {
      if (isStreamNotFound(err)) return undefined;
      throw err;
    });
    if (!info) {
      once(
        `${label}:stream`,
        "source {source}: stream missing; its payload mirror is made once it exists",
        {
          source: label,
        },
      );
      return "pending";
    }
    const retention = info.config.retention;
    if (retention === RetentionPolicy.Limits) return "none";
    if (source.keep_payload === "off") {
      once(`${label}:off`, offWarning(source, retention), { source: label });
      return "none";
    }
    if (retention === RetentionPolicy.Workqueue && !versionAtLeast(deps.serverVersion, "2.10.0")) {
      // On 2.9 the mirror's consumer counts as a workqueue consumer: made first, it would stop
      // the source's own consumer from being created (fixed in 2.10).
      const exists = await jsm.consumers.info(source.stream, source.consumer).then(
        () => true,
        (err) => {
          if (isConsumerNotFound(err)) return false;
          throw err;
        },
      );
      if (!exists) {
        once(
          `${label}:consumer`,
          "source {source}: waiting for the consumer before making the payload mirror (on " +
            "nats-server {version} a mirrored workqueue stream takes no new consumers)",
          { source: label, version: deps.serverVersion },
        );
        return "pending";
      }
      once(
        `${label}:29`,
        "nats-server {version}: while payload mirror {mirror} exists, no further consumer can be " +
          "added to workqueue stream {stream} (fixed in nats-server 2.10); set keep_payload: off " +
          "on its sources to add one, or upgrade",
        { version: deps.serverVersion, mirror: keepStreamName(cfg, source.stream), ...source },
      );
    }
    const name = keepStreamName(cfg, source.stream);
    await ensureMirror(jsm, cfg, name, source.stream, log);
    ready.set(source.stream, name);
    return "ready";
  }

  return {
    async ensure() {
      for (const source of deps.cfg.sources) {
        const key = `${source.stream}/${source.consumer}`;
        const state = states.get(key);
        if (state === "ready" || state === "none") continue;
        if (ready.has(source.stream) && source.keep_payload !== "off") {
          states.set(key, "ready");
          continue;
        }
        try {
          states.set(key, await ensureOne(source));
        } catch (err) {
          states.set(key, "pending");
          if (isTransient(err)) continue;
          deps.log.error("source {source}: cannot keep payloads: {error}", {
            source: key,
            error: (err as Error).message,
          });
        }
      }
    },
    mirrorOf: (stream) => ready.get(stream),
    pending: () => [...states.values()].includes("pending"),
  };
}

/** What a source that keeps no payloads loses, said at start. */
function offWarning(source: DlqSource, retention: RetentionPolicy): string {
  return "source {source}: stream " + source.stream + ` has ${retention} retention and ` +
    "keep_payload is off: messages its consumer terminates are deleted before capture, so " +
    "their DLQ entries hold provenance only (set keep_payload: mirror to keep them)";
}

/** The mirror's settings. */
function mirrorConfig(cfg: DlqRedriverConfig, name: string, source: string) {
  return {
    name,
    mirror: { name: source },
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    max_age: Math.round(cfg.capture_window * NANOS),
    max_bytes: cfg.capture_max_bytes,
    num_replicas: cfg.replicas,
    description: `jetport: payloads of ${source} kept for DLQ capture (capture_window)`,
  } satisfies Partial<StreamConfig>;
}

/**
 * Creates mirror `name` of `source`, or checks an existing one: it must mirror `source` (another
 * stream of that name is an error, never changed), and its bounds are set to the config's.
 */
async function ensureMirror(
  jsm: JetStreamManager,
  cfg: DlqRedriverConfig,
  name: string,
  source: string,
  log: Logger,
): Promise<void> {
  const wanted = mirrorConfig(cfg, name, source);
  const info = await jsm.streams.info(name).catch((err) => {
    if (isStreamNotFound(err)) return undefined;
    throw err;
  });
  if (!info) {
    await jsm.streams.add(wanted);
    log.info("created payload mirror {name} of {source} (capture_window {window} ms)", {
      name,
      source,
      window: cfg.capture_window,
    });
    return;
  }
  if (info.config.mirror?.name !== source) {
    throw new Error(
      `stream ${name} exists but is not a mirror of ${source}; delete it, or set ` +
        "keep_payload: off on the sources of " + source,
    );
  }
  if (info.config.max_age !== wanted.max_age || info.config.max_bytes !== wanted.max_bytes) {
    await jsm.streams.update(name, {
      ...info.config,
      max_age: wanted.max_age,
      max_bytes: wanted.max_bytes,
    });
    log.info("payload mirror {name}: bounds set to capture_window {window} ms, {bytes} bytes", {
      name,
      window: cfg.capture_window,
      bytes: cfg.capture_max_bytes,
    });
  }
}
