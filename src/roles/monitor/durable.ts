/**
 * Makes sure the monitor's durable pull consumer exists: used as it is when the provisioner (or
 * anyone) declared it, created with `ack: explicit` otherwise.
 * @module
 */
import {
  AckPolicy,
  type ConsumerConfig,
  type ConsumerInfo,
  DeliverPolicy,
  type JetStreamManager,
} from "@nats-io/jetstream";
import { isConsumerNotFound, isStreamNotFound } from "../../nats/errors.ts";

/** Which consumer, and where a newly created one starts. */
export interface DurableSpec {
  /** Stream name. */
  stream: string;
  /** Durable consumer name. */
  consumer: string;
  /** Only events on this subject (optional). */
  filterSubject?: string;
  /**
   * Start a newly created consumer at this stream sequence instead of the stream's beginning
   * (used when a consumer deleted under a running monitor is recreated: it resumes there).
   */
  startSeq?: number;
  /** The monitor's `batch`: a newly created consumer lets {@link AHEAD} batches be unacked. */
  batch: number;
}

/**
 * Batches a consumer the monitor creates may have delivered and unacked (`max_ack_pending`, at
 * least the server's default 1000): the group being flushed, the next one formatted meanwhile
 * and two read ahead. With room for only two, the server waits for each group's acks before it
 * sends more, so the group gathered during a flush stays small and more groups (an fsync each)
 * are needed: for 100k events at `batch` 500, 330-470 groups with 1000 and 260-400 with 2000
 * in the same runs (measured).
 */
export const AHEAD = 4;

/** The nats-server's `max_ack_pending` when none is given. */
const SERVER_MAX_ACK_PENDING = 1000;

/** Why the consumer cannot be used; `code` says which case. */
export class DurableError extends Error {
  /** `STREAM_NOT_FOUND` (wait for it) or `PUSH_CONSUMER` (configuration error). */
  readonly code: "STREAM_NOT_FOUND" | "PUSH_CONSUMER";
  /** Creates the error. */
  constructor(code: DurableError["code"], message: string) {
    super(message);
    this.code = code;
    this.name = "DurableError";
  }
}

/** The config a consumer created by the monitor gets. */
export function consumerConfig(spec: DurableSpec): Partial<ConsumerConfig> {
  const config: Partial<ConsumerConfig> = {
    durable_name: spec.consumer,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: spec.startSeq ? DeliverPolicy.StartSequence : DeliverPolicy.All,
    max_ack_pending: Math.max(SERVER_MAX_ACK_PENDING, AHEAD * spec.batch),
  };
  if (spec.startSeq) config.opt_start_seq = spec.startSeq;
  if (spec.filterSubject) config.filter_subject = spec.filterSubject;
  return config;
}

/**
 * Returns the consumer's info, creating the consumer first when it does not exist (`created` then
 * says so). Throws {@link DurableError} when the stream is missing or the consumer is a push
 * consumer; other errors (timeouts, no responders) are passed on.
 */
export async function ensureDurable(
  jsm: JetStreamManager,
  spec: DurableSpec,
): Promise<{ info: ConsumerInfo; created: boolean }> {
  const where = `${spec.stream}/${spec.consumer}`;
  try {
    const info = await jsm.consumers.info(spec.stream, spec.consumer);
    if (info.config.deliver_subject) {
      throw new DurableError(
        "PUSH_CONSUMER",
        `consumer ${where} is a push consumer (deliver_subject ${info.config.deliver_subject}); ` +
          "the monitor needs a pull consumer: remove deliver_subject from its declaration",
      );
    }
    return { info, created: false };
  } catch (err) {
    if (isStreamNotFound(err)) throw streamMissing(spec);
    if (!isConsumerNotFound(err)) throw err;
  }
  try {
    return { info: await jsm.consumers.add(spec.stream, consumerConfig(spec)), created: true };
  } catch (err) {
    if (isStreamNotFound(err)) throw streamMissing(spec);
    // Another instance created it between our info and add (with another start): use theirs.
    const info = await jsm.consumers.info(spec.stream, spec.consumer).catch(() => undefined);
    if (info) return { info, created: false };
    throw err;
  }
}

/** The error for a stream that does not exist (yet). */
export function streamMissing(spec: Pick<DurableSpec, "stream">): DurableError {
  return new DurableError(
    "STREAM_NOT_FOUND",
    `stream ${spec.stream} does not exist; waiting for it (declare it under ` +
      "roles.stream_provisioner.streams, or start the watcher that publishes to it)",
  );
}
