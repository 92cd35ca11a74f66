/**
 * The dead-letter format (docs/design.md "Dead letter") and the one function through which every
 * role writes a dead letter. An entry is the original payload, byte for byte, with the original
 * headers plus `Jetport-Dlq-*` provenance headers, on `<subject_prefix>.<stream>.<consumer>` in the
 * DLQ stream. Its `Nats-Msg-Id` is derived from (stream, seq), so capturing the same message twice
 * (a repeated advisory, a role's own entry and the advisory its `term` causes, a publish retried)
 * stores it once within the DLQ stream's duplicate window.
 *
 * Callers that must keep a copy of a message they are about to `term` (under workqueue or
 * interest retention `term` deletes it) use `deadLetterOrTerminate()`
 * (`dead_letter_or_terminate.ts`), which awaits {@link deadLetter} and terminates after the
 * publish ack.
 * @module
 */
import { headers as newHeaders, type MsgHdrs } from "@nats-io/nats-core";
import {
  type JetStreamClient,
  type JetStreamManager,
  RetentionPolicy,
  StorageType,
  type StreamInfo,
} from "@nats-io/jetstream";
import type { PubAck, Publisher } from "./publisher.ts";
import { isStreamNotFound, isTransient } from "./errors.ts";

/** The provenance headers of a dead letter. */
export const DLQ_HEADERS = {
  /** The source stream. */
  stream: "Jetport-Dlq-Stream",
  /** The consumer that gave up on the message. */
  consumer: "Jetport-Dlq-Consumer",
  /** The message's original subject (where redrive publishes it). */
  subject: "Jetport-Dlq-Subject",
  /** The message's sequence in the source stream. */
  seq: "Jetport-Dlq-Seq",
  /** How often the consumer had it delivered. */
  deliveries: "Jetport-Dlq-Deliveries",
  /** Why it is dead (advisory kind, or the role's error). */
  reason: "Jetport-Dlq-Reason",
  /** When it was declared dead, ISO-8601 UTC. */
  failedAt: "Jetport-Dlq-Failed-At",
  /** How often it was redriven before (0 for a first failure). */
  redrives: "Jetport-Dlq-Redrives",
  /** The original `Nats-Msg-Id`, kept aside: the entry's own id is the dedupe key in the DLQ. */
  msgId: "Jetport-Dlq-Msg-Id",
  /** `missing` when the original was gone from the source stream: a provenance-only entry. */
  original: "Jetport-Dlq-Original",
} as const;

/** Every provenance header starts with this. */
export const DLQ_HEADER_PREFIX = "Jetport-Dlq-";

/**
 * Headers that are instructions to the server at publish time, not data: copying them into the
 * DLQ (or back on redrive) would make the publish fail (`Nats-Expected-*`), roll up the DLQ
 * (`Nats-Rollup`), expire the copy (`Nats-TTL`) or schedule it. They are dropped.
 */
const PUBLISH_CONTROL = /^Nats-(Expected-|Rollup$|TTL$|Schedule|Batch-|Required-Api-Level$)/i;

/** Where dead letters go: the DLQ stream and the prefix of its subjects. */
export interface DlqTarget {
  /** DLQ stream name. */
  stream: string;
  /** Entries go to `<subjectPrefix>.<stream>.<consumer>`. */
  subjectPrefix: string;
}

/** Where a dead message came from and why it is dead: what every entry records. */
export interface DeadLetterSource {
  /** Source stream. */
  stream: string;
  /** Consumer that gave up. */
  consumer: string;
  /** Original subject; empty when unknown (the original was gone when it was captured). */
  subject: string;
  /** Sequence in the source stream. */
  seq: number;
  /** Deliveries before the consumer gave up. */
  deliveries: number;
  /** Why (e.g. `max deliveries reached`, `invalid payload: ...`). */
  reason: string;
}

/** A message a consumer gave up on, as a role hands it to {@link deadLetter}. */
export interface DeadLetter extends DeadLetterSource {
  /** The original payload; undefined for a provenance-only entry (original gone). */
  data?: Uint8Array;
  /** The original headers, copied (provenance headers in them are replaced). */
  headers?: MsgHdrs;
  /** Previous redrives; defaults to the original's `Jetport-Dlq-Redrives` header, else 0. */
  redrives?: number;
  /** When it failed; defaults to now. */
  failedAt?: Date;
}

/**
 * What {@link deadLetter} publishes with: jetport's fast {@link Publisher} (roles), or a plain
 * `JetStreamClient` (one-off tools and tests). Either way the publish is awaited to its PubAck.
 */
export type DlqPublisher = Pick<Publisher, "publish" | "room"> | Pick<JetStreamClient, "publish">;

/**
 * What {@link dlqTarget} reads of the whole config: the `dlq_redriver` section's names. Spelled
 * out here because `src/nats` does not import the roles' schemas.
 */
export interface DlqConfigView {
  /** The `roles:` section. */
  roles: {
    /** The `dlq_redriver` section, when present. */
    dlq_redriver?: { enabled?: boolean; dlq_stream: string; subject_prefix: string };
  };
}

/**
 * Where the roles' dead letters go, from the whole config: the `dlq_redriver` section when it is
 * present and enabled, else undefined (a role then terminates with a logged reason, and says
 * that no DLQ is configured).
 */
export function dlqTarget(config: DlqConfigView): DlqTarget | undefined {
  const section = config.roles.dlq_redriver;
  if (!section || section.enabled === false) return undefined;
  return { stream: section.dlq_stream, subjectPrefix: section.subject_prefix };
}

/** The DLQ subject for a source: `<prefix>.<stream>.<consumer>`. */
function dlqSubject(target: DlqTarget, stream: string, consumer: string): string {
  return `${target.subjectPrefix}.${stream}.${consumer}`;
}

/**
 * The `Nats-Msg-Id` of a dead letter: one entry per (stream, seq). A redriven message has a new
 * sequence in its stream, so its next failure is a new entry; and a role's direct entry and the
 * provenance-only entry made from the server's advisory for the same `term` share the id.
 */
function deadLetterMsgId(stream: string, seq: number): string {
  return `jetport-dlq:${stream}:${seq}`;
}

/**
 * The `Nats-Msg-Id` a redrive publishes with, from (stream, seq, redrive count): a redrive that is
 * repeated (interrupted after the publish, before the DLQ delete) is dropped by the source
 * stream's duplicate window instead of delivered twice.
 */
export function redriveMsgId(stream: string, seq: number, redriveCount: number): string {
  return `jetport-redrive:${stream}:${seq}:${redriveCount}`;
}

/** Header values cannot hold line breaks; reasons often come from error messages that do. */
function oneLine(text: string): string {
  return text.replace(/[\r\n]+/g, " ").trim();
}

/** The redrive count carried by `headers` (0 when absent or not a number). */
function redrivesOf(headers: MsgHdrs | undefined): number {
  const n = Number(headers?.get(DLQ_HEADERS.redrives) ?? "");
  return Number.isInteger(n) && n > 0 ? n : 0;
}

/**
 * Copies `from` into `to`, every value in order, except provenance headers, publish-control
 * headers and `Nats-Msg-Id` (the caller sets its own).
 */
function copyHeaders(from: MsgHdrs | undefined, to: MsgHdrs): void {
  if (!from) return;
  for (const key of from.keys()) {
    if (key.toLowerCase().startsWith(DLQ_HEADER_PREFIX.toLowerCase())) continue;
    if (key.toLowerCase() === "nats-msg-id" || PUBLISH_CONTROL.test(key)) continue;
    for (const v of from.values(key)) to.append(key, v);
  }
}

/** The headers of a dead-letter entry: the original's, then the provenance headers. */
export function deadLetterHeaders(letter: DeadLetter): MsgHdrs {
  const h = newHeaders();
  copyHeaders(letter.headers, h);
  const originalId = letter.headers?.get("Nats-Msg-Id");
  if (originalId) h.set(DLQ_HEADERS.msgId, originalId);
  h.set(DLQ_HEADERS.stream, letter.stream);
  h.set(DLQ_HEADERS.consumer, letter.consumer);
  h.set(DLQ_HEADERS.subject, letter.subject);
  h.set(DLQ_HEADERS.seq, String(letter.seq));
  h.set(DLQ_HEADERS.deliveries, String(letter.deliveries));
  h.set(DLQ_HEADERS.reason, oneLine(letter.reason) || "unknown");
  h.set(DLQ_HEADERS.failedAt, (letter.failedAt ?? new Date()).toISOString());
  h.set(DLQ_HEADERS.redrives, String(letter.redrives ?? redrivesOf(letter.headers)));
  if (letter.data === undefined) h.set(DLQ_HEADERS.original, "missing");
  return h;
}

/**
 * Stores `letter` in the DLQ and resolves once the DLQ stream acked it (a duplicate ack counts:
 * the entry is already there). Only then may the caller `term` the original.
 */
export function deadLetter(
  publisher: DlqPublisher,
  target: DlqTarget,
  letter: DeadLetter,
): Promise<PubAck> {
  const headers = deadLetterHeaders(letter);
  // The entry must land in the DLQ stream, not in another stream that happens to take the subject.
  headers.set("Nats-Expected-Stream", target.stream);
  return publishWith(
    publisher,
    dlqSubject(target, letter.stream, letter.consumer),
    letter.data ?? new Uint8Array(),
    headers,
    deadLetterMsgId(letter.stream, letter.seq),
  );
}

/** Publishes through either kind of {@link DlqPublisher} and resolves with the PubAck. */
export function publishWith(
  publisher: DlqPublisher,
  subject: string,
  data: Uint8Array,
  headers: MsgHdrs,
  msgId: string,
): Promise<PubAck> {
  if ("room" in publisher) return publisher.publish({ subject, data, msgId, headers });
  return publisher.publish(subject, data, { headers, msgID: msgId });
}

/** Provenance of a stored dead letter, read back from its headers. */
export interface Provenance extends DeadLetterSource {
  /** When, ISO-8601 (as stored). */
  failedAt: string;
  /** Redrives before this failure. */
  redrives: number;
  /** True for a provenance-only entry (no payload to redrive). */
  missing: boolean;
}

/** Reads the provenance headers of a DLQ entry; undefined when it has none (not jetport's). */
export function provenanceOf(headers: MsgHdrs | undefined): Provenance | undefined {
  if (!headers?.has(DLQ_HEADERS.stream) || !headers.has(DLQ_HEADERS.seq)) return undefined;
  return {
    stream: headers.get(DLQ_HEADERS.stream),
    consumer: headers.get(DLQ_HEADERS.consumer),
    subject: headers.get(DLQ_HEADERS.subject),
    seq: Number(headers.get(DLQ_HEADERS.seq)),
    deliveries: Number(headers.get(DLQ_HEADERS.deliveries)) || 0,
    reason: headers.get(DLQ_HEADERS.reason),
    failedAt: headers.get(DLQ_HEADERS.failedAt),
    redrives: redrivesOf(headers),
    missing: headers.get(DLQ_HEADERS.original) === "missing",
  };
}

/**
 * The headers a redrive publishes with: the original headers (no `Jetport-Dlq-*`) plus
 * `Jetport-Dlq-Redrives` one higher than the entry's. The caller adds the fresh `Nats-Msg-Id`
 * ({@link redriveMsgId}).
 */
export function redriveHeaders(entryHeaders: MsgHdrs): MsgHdrs {
  const h = newHeaders();
  copyHeaders(entryHeaders, h);
  h.set(DLQ_HEADERS.redrives, String(redrivesOf(entryHeaders) + 1));
  return h;
}

/** Settings of the DLQ stream jetport creates when it is missing. */
export interface DlqStreamOptions {
  /** Stream name and subject prefix. */
  target: DlqTarget;
  /** How long entries are kept (ms). */
  maxAge: number;
  /** Replicas (1 on a single server). */
  replicas: number;
  /** Window in which a repeated capture is recognised by its `Nats-Msg-Id` (ms). */
  duplicateWindow: number;
}

/** The DLQ stream is unusable as it is (its subjects do not take dead letters). */
export class DlqStreamError extends Error {
  /** Stable error code. */
  readonly code = "DLQ_STREAM";
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "DlqStreamError";
  }
}

/**
 * Makes sure the DLQ stream exists: creates it when missing (subjects `<prefix>.>`, limits
 * retention, file storage, `max_age`, direct get allowed), and checks that an existing one takes
 * `<prefix>.>` (it is left as it is otherwise: it may be declared by the provisioner or by hand).
 */
export async function ensureDlqStream(
  jsm: JetStreamManager,
  opts: DlqStreamOptions,
): Promise<StreamInfo> {
  const { stream, subjectPrefix } = opts.target;
  const wanted = `${subjectPrefix}.>`;
  try {
    const info = await jsm.streams.info(stream);
    const subjects = info.config.subjects ?? [];
    if (!subjects.includes(wanted) && !subjects.includes(">")) {
      throw new DlqStreamError(
        `stream ${stream} exists but does not take ${wanted} (its subjects: ` +
          `${subjects.join(", ") || "none"}); add ${wanted} to it, or set ` +
          "roles.dlq_redriver.dlq_stream / subject_prefix to match it",
      );
    }
    return info;
  } catch (err) {
    if (err instanceof DlqStreamError) throw err;
    if (!isStreamNotFound(err)) throw err;
  }
  const nanos = (ms: number) => Math.round(ms * 1_000_000);
  try {
    return await jsm.streams.add({
      name: stream,
      subjects: [wanted],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      max_age: nanos(opts.maxAge),
      duplicate_window: nanos(Math.min(opts.duplicateWindow, opts.maxAge || Infinity)),
      num_replicas: opts.replicas,
      allow_direct: true,
      description: "jetport dead letters (roles.dlq_redriver)",
    });
  } catch (err) {
    // No leader to answer right now (a cluster election): the caller retries; not a config error.
    if (isTransient(err)) throw err;
    throw new DlqStreamError(
      `cannot create DLQ stream ${stream} on ${wanted}: ${(err as Error).message}` +
        (/overlap/i.test((err as Error).message)
          ? `; another stream already takes ${wanted}: choose another subject_prefix`
          : ""),
    );
  }
}
