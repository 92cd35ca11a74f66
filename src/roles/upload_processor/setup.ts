/**
 * What the upload processor needs on the server before it pulls: its durable pull consumer
 * (created with the upload service's flags unless the provisioner declares it) and the KV bucket
 * of processed event ids.
 * @module
 */
import {
  AckPolicy,
  type ConsumerInfo,
  DeliverPolicy,
  type JetStreamClient,
  type JetStreamManager,
  ReplayPolicy,
} from "@nats-io/jetstream";
import { type KV, Kvm } from "@nats-io/kv";
import type { Config } from "../schemas.ts";
import { isConsumerNotFound, isStreamNotFound } from "../../nats/errors.ts";
import type { UploadProcessorConfig } from "./config.ts";

/** `max_ack_pending` of a consumer jetport creates: the upload service's `--max-pending=100`. */
export const DEFAULT_MAX_ACK_PENDING = 100;

/** Deliveries the server allows beyond `retry.max_deliveries` (claims given back, lost acks). */
const SERVER_SLACK = 5;

/** Why the role cannot start yet (the supervisor retries with backoff). */
export class SetupError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "SetupError";
  }
}

/** True when the provisioner section of `config` declares `stream`/`consumer`. */
export function declaredByProvisioner(config: Config, stream: string, consumer: string): boolean {
  const p = config.roles.stream_provisioner;
  if (!p || p.enabled === false) return false;
  return p.consumers.some((c) => c.stream === stream && c.name === consumer);
}

/**
 * The consumer's info; when it does not exist and the provisioner does not declare it, it is
 * created like the upload service's `nats consumer add` (pull, ack explicit, deliver all,
 * max_ack_pending 100, replay instant), except that `max_deliver` is bounded: a few more than
 * `retry.max_deliveries`, so the role dead-letters an event itself and the server's bound is
 * only a backstop (-1 when the operator asked for no limit).
 */
export async function ensureConsumer(
  jsm: JetStreamManager,
  cfg: UploadProcessorConfig,
  config: Config,
): Promise<ConsumerInfo> {
  const where = `${cfg.stream}/${cfg.consumer}`;
  const missingStream = () =>
    new SetupError(
      `stream ${cfg.stream} does not exist; declare it under roles.stream_provisioner.streams ` +
        "(or create it as the upload service does); retrying",
    );
  let info: ConsumerInfo | undefined;
  try {
    info = await jsm.consumers.info(cfg.stream, cfg.consumer);
  } catch (err) {
    if (isStreamNotFound(err)) throw missingStream();
    if (!isConsumerNotFound(err)) throw err;
  }
  if (!info) {
    if (declaredByProvisioner(config, cfg.stream, cfg.consumer)) {
      throw new SetupError(`consumer ${where} is declared by the provisioner but not there yet`);
    }
    try {
      info = await jsm.consumers.add(cfg.stream, {
        durable_name: cfg.consumer,
        filter_subject: cfg.subject,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        replay_policy: ReplayPolicy.Instant,
        max_deliver: cfg.retry.max_deliveries > 0 ? cfg.retry.max_deliveries + SERVER_SLACK : -1,
        max_ack_pending: DEFAULT_MAX_ACK_PENDING,
      });
    } catch (err) {
      if (isStreamNotFound(err)) throw missingStream();
      // Another instance created it meanwhile: use theirs.
      info = await jsm.consumers.info(cfg.stream, cfg.consumer).catch(() => undefined);
      if (!info) throw err;
    }
  }
  if (info.config.deliver_subject) {
    throw new SetupError(
      `consumer ${where} is a push consumer; the upload processor needs a pull consumer`,
    );
  }
  if (info.config.ack_policy !== AckPolicy.Explicit) {
    throw new SetupError(`consumer ${where} must use ack_policy explicit`);
  }
  return info;
}

/** The dedupe bucket, and whether it takes a TTL per key (see `dedupe.ts`). */
export interface DedupeBucket {
  /** The bucket. */
  kv: KV;
  /** True when its stream allows per-message TTL. */
  perKeyTtl: boolean;
}

/**
 * Opens the dedupe bucket, creating it (history 1, `ttl`) when it does not exist; with
 * `messageTtl` (the server has per-message TTL, 2.11+) a new bucket allows per-key TTLs.
 */
export async function ensureDedupeBucket(
  js: JetStreamClient,
  jsm: JetStreamManager,
  bucket: string,
  ttl: number,
  messageTtl: boolean,
): Promise<DedupeBucket> {
  const kvm = new Kvm(js);
  try {
    const info = await jsm.streams.info(`KV_${bucket}`);
    return { kv: await kvm.open(bucket), perKeyTtl: info.config.allow_msg_ttl === true };
  } catch (err) {
    if (!isStreamNotFound(err)) throw err;
  }
  const kv = await kvm.create(bucket, {
    ttl,
    history: 1,
    // Delete markers of expired claims live a minute: long enough for a watcher, then gone.
    ...(messageTtl ? { markerTTL: 60_000 } : {}),
  });
  return { kv, perKeyTtl: messageTtl };
}
