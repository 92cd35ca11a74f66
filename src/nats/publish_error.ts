/**
 * The typed error a JetStream publish rejects with, and the parsing of the server's reply (PubAck
 * JSON, an API error, or a status message such as 503 "no responders").
 * @module
 */
import type { Msg } from "@nats-io/nats-core";

/** What a stream replied when it stored a message. */
export interface PubAck {
  /** The stream that stored the message. */
  stream: string;
  /** The message's sequence in that stream. */
  seq: number;
  /** True when the stream had already stored a message with this `Nats-Msg-Id`. */
  duplicate: boolean;
  /** The JetStream domain, when the server runs in one. */
  domain?: string;
}

/**
 * Why a publish failed for good:
 * - `stream_error`: the stream refused the message (`apiCode` says why, e.g. 10071 wrong last
 *   sequence); retrying will not help.
 * - `deadline_exceeded`: no PubAck before the publisher's deadline; `lastFailure` says whether the
 *   attempts timed out or got "no responders" (no stream captures the subject, or none has a
 *   leader).
 * - `closed`: the publisher or the connection closed before the message was acknowledged.
 * - `invalid_ack`: the reply could not be understood.
 * - `blocked`: never sent, because an earlier message sharing one of its `orderKeys` failed with
 *   `deadline_exceeded` or `closed` (that one may not be stored, and this one must not overtake
 *   it); publish both again, in their order.
 */
export type PublishErrorCode =
  | "stream_error"
  | "deadline_exceeded"
  | "closed"
  | "invalid_ack"
  | "blocked";

/** Why one attempt did not get an ack (retried until the deadline). */
export type AttemptFailure = "timeout" | "no_responders" | "unavailable";

/** A publish that failed for good. */
export class PublishError extends Error {
  /** What kind of failure. */
  readonly code: PublishErrorCode;
  /** The subject published to. */
  readonly subject: string;
  /** The message's `Nats-Msg-Id`. */
  readonly msgId: string;
  /** The JetStream API error code (`err_code`), for `stream_error`. */
  readonly apiCode?: number;
  /** The status code the server replied with (400, 503, ...), when there was one. */
  readonly status?: number;
  /** How many times the message was sent. */
  readonly attempts: number;
  /** For `deadline_exceeded`: what the last attempt ran into. */
  readonly lastFailure?: AttemptFailure;

  /** Creates the error; `message` should say what happened and what to do. */
  constructor(
    code: PublishErrorCode,
    message: string,
    details: {
      subject: string;
      msgId: string;
      attempts: number;
      apiCode?: number;
      status?: number;
      lastFailure?: AttemptFailure;
    },
  ) {
    super(message);
    this.name = "PublishError";
    this.code = code;
    this.subject = details.subject;
    this.msgId = details.msgId;
    this.apiCode = details.apiCode;
    this.status = details.status;
    this.attempts = details.attempts;
    this.lastFailure = details.lastFailure;
  }
}

/** The server's reply to one publish, classified. */
export type AckReply =
  | { kind: "ack"; ack: PubAck }
  | { kind: "retry"; failure: AttemptFailure; description: string }
  | { kind: "error"; status?: number; apiCode?: number; description: string }
  | { kind: "invalid"; description: string };

interface AckJson {
  stream?: string;
  seq?: number;
  duplicate?: boolean;
  domain?: string;
  error?: { code?: number; err_code?: number; description?: string };
}

/**
 * Classifies a reply: a PubAck, a retryable condition (503 no responders while a stream has no
 * leader or none exists; a 503 API error "JetStream temporarily unavailable"), or a stream error.
 */
export function parseAckReply(msg: Msg): AckReply {
  const status = msg.headers?.code ?? 0;
  if (status === 503) {
    return { kind: "retry", failure: "no_responders", description: "no responders" };
  }
  if (status >= 300) {
    return { kind: "error", status, description: msg.headers?.description || `status ${status}` };
  }
  const fast = status === 0 ? plainAck(msg.data) : undefined;
  if (fast) return fast;
  let body: AckJson;
  try {
    body = msg.json<AckJson>();
  } catch {
    return { kind: "invalid", description: `reply is not JSON: ${msg.string().slice(0, 200)}` };
  }
  if (body.error) {
    const description = body.error.description ?? "unknown stream error";
    if (body.error.code === 503) return { kind: "retry", failure: "unavailable", description };
    return { kind: "error", status: body.error.code, apiCode: body.error.err_code, description };
  }
  if (typeof body.stream !== "string" || typeof body.seq !== "number") {
    return { kind: "invalid", description: `reply is not a PubAck: ${msg.string().slice(0, 200)}` };
  }
  const ack: PubAck = { stream: body.stream, seq: body.seq, duplicate: body.duplicate === true };
  if (body.domain) ack.domain = body.domain;
  return { kind: "ack", ack };
}

const decoder = new TextDecoder();
const ACK_START = new TextEncoder().encode('{"stream":"');
const ACK_SEQ = new TextEncoder().encode('","seq":');
const ACK_DUPLICATE = new TextEncoder().encode(',"duplicate":true}');
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const CLOSE = 0x7d;
/** The last stream name decoded, and its bytes: acks of one stream decode its name once. */
let lastStream = { bytes: new Uint8Array(0), name: "" };

/**
 * The common PubAck, `{"stream":"S","seq":N}` with an optional `,"duplicate":true`, read from
 * its bytes without decoding and parsing JSON (one of the larger costs per publish, profiled);
 * undefined for any other shape (domain, error, ...), which the JSON path reads.
 */
function plainAck(b: Uint8Array): AckReply | undefined {
  if (!startsWith(b, ACK_START, 0)) return undefined;
  let i = ACK_START.length;
  while (i < b.length && b[i] !== QUOTE && b[i] !== BACKSLASH) i++;
  if (i === ACK_START.length || !startsWith(b, ACK_SEQ, i)) return undefined;
  const nameEnd = i;
  i += ACK_SEQ.length;
  let seq = 0;
  const digits = i;
  for (; i < b.length && b[i] >= 0x30 && b[i] <= 0x39; i++) seq = seq * 10 + b[i] - 0x30;
  if (i === digits || i - digits > 15) return undefined;
  let duplicate: boolean;
  if (b[i] === CLOSE && i === b.length - 1) duplicate = false;
  else if (startsWith(b, ACK_DUPLICATE, i) && i + ACK_DUPLICATE.length === b.length) {
    duplicate = true;
  } else return undefined;
  return {
    kind: "ack",
    ack: { stream: streamName(b, ACK_START.length, nameEnd), seq, duplicate },
  };
}

/** The stream name in `b` from `start` to `end`, decoded only when it is not the last one's. */
function streamName(b: Uint8Array, start: number, end: number): string {
  const last = lastStream;
  if (end - start === last.bytes.length && startsWith(b, last.bytes, start)) return last.name;
  const bytes = b.slice(start, end);
  lastStream = { bytes, name: decoder.decode(bytes) };
  return lastStream.name;
}

function startsWith(b: Uint8Array, prefix: Uint8Array, at: number): boolean {
  if (at + prefix.length > b.length) return false;
  for (let i = 0; i < prefix.length; i++) if (b[at + i] !== prefix[i]) return false;
  return true;
}
