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
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
  ReplayPolicy,
} from "@nats-io/jetstream";
import { type KV, Kvm } from "@nats-io/kv";
import type { Config } from "../schemas.ts";
import type { UploadProcessorConfig } from "./config.ts";

/** `max_ack_pending` of a consumer jetport creates: the upload service's `--max-pending=100`. */
export const DEFAULT_MAX_ACK_PENDING = 100;

/** Why the role cannot start yet (the supervisor retries with backoff). */
export class SetupError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "SetupError";
  }
}

function isApiError(err: unknown, code: number): boolean {
  return err instanceof JetStreamApiError && err.code === code;
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
 * max_deliver unlimited, max_ack_pending 100, replay instant).
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
    if (isApiError(err, JetStreamApiCodes.StreamNotFound)) throw missingStream();
    if (!isApiError(err, JetStreamApiCodes.ConsumerNotFound)) throw err;
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
        max_deliver: -1,
        max_ack_pending: DEFAULT_MAX_ACK_PENDING,
      });
    } catch (err) {
      if (isApiError(err, JetStreamApiCodes.StreamNotFound)) throw missingStream();
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

/** Opens the dedupe bucket, creating it (history 1, `ttl`) when it does not exist. */
export async function ensureDedupeBucket(
  js: JetStreamClient,
  jsm: JetStreamManager,
  bucket: string,
  ttl: number,
): Promise<KV> {
  const kvm = new Kvm(js);
  try {
    await jsm.streams.info(`KV_${bucket}`);
    return await kvm.open(bucket);
  } catch (err) {
    if (!isApiError(err, JetStreamApiCodes.StreamNotFound)) throw err;
  }
  return await kvm.create(bucket, { ttl, history: 1 });
}
