/**
 * The one JSON shape of a message, everywhere: the lines `jetport replay` writes, what
 * `jetport dlq show --json` prints, and what `jetport publish --file` reads back:
 * `{stream, seq, subject, time, headers, data}`. `data` is the payload as JSON when it is compact
 * JSON; otherwise the payload is in `data_base64` (base64) and `data` is absent. One shape means
 * any message jetport prints can be published again unchanged, byte for byte.
 * @module
 */
import { headers as newHeaders, type MsgHdrs } from "@nats-io/nats-core";

/** One message as a JSON line. */
export interface MessageLine {
  /** The stream it was read from (replay only). */
  stream?: string;
  /** Its sequence in that stream (replay only). */
  seq?: number;
  /** Its subject. */
  subject?: string;
  /** When the stream stored it, ISO-8601 UTC (replay only). */
  time?: string;
  /** `Nats-Msg-Id` to publish with (publish only; replay keeps it in `headers`). */
  msg_id?: string;
  /** Headers: one string per value, a list when a header repeats. */
  headers?: Record<string, string | string[]>;
  /** The payload, when it is JSON. */
  data?: unknown;
  /** The payload in base64, when it is not JSON. */
  data_base64?: string;
}

const decoder = new TextDecoder("utf-8", { fatal: true });

/** Encodes bytes as base64. */
function toBase64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

/** Decodes base64 into bytes; throws on bad input. */
function fromBase64(text: string): Uint8Array {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

/**
 * The payload fields of a line: `data` when the bytes are compact JSON, else `data_base64`.
 * Only JSON that `JSON.stringify` writes back byte for byte goes in `data` (not `{"a": 1}`, not
 * `1.0`), so publishing a line again sends exactly the bytes that were stored.
 */
function payloadFields(bytes: Uint8Array): Pick<MessageLine, "data" | "data_base64"> {
  if (bytes.length > 0) {
    try {
      const text = decoder.decode(bytes);
      const data = JSON.parse(text);
      if (JSON.stringify(data) === text) return { data };
    } catch { /* not UTF-8 JSON: base64 below */ }
  }
  return { data_base64: toBase64(bytes) };
}

/**
 * The payload of a line: `data_base64` decoded, or `data` as compact JSON text (the publisher
 * encodes text into its frame without a buffer per message).
 */
export function linePayload(line: MessageLine): Uint8Array | string {
  if (line.data_base64 !== undefined) return fromBase64(line.data_base64);
  return JSON.stringify(line.data);
}

/** A message as a stream stored it (what replay reads and `dlq show` gets). */
export interface StoredMessage {
  /** The subject it was published to. */
  subject: string;
  /** Its sequence in the stream. */
  seq: number;
  /** When the stream stored it. */
  time: Date;
  /** Its headers, if any. */
  headers?: MsgHdrs;
  /** The payload. */
  data: Uint8Array;
}

/** The JSON line of a message stored at `seq` in `stream`. */
export function storedMessageLine(stream: string, m: StoredMessage): MessageLine {
  return {
    stream,
    seq: m.seq,
    subject: m.subject,
    time: m.time.toISOString(),
    headers: headersToObject(m.headers),
    ...payloadFields(m.data),
  };
}

/** Headers as a plain object (repeated headers as lists). */
export function headersToObject(h: MsgHdrs | undefined): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  if (!h) return out;
  for (const key of h.keys()) {
    const values = h.values(key);
    out[key] = values.length === 1 ? values[0] : values;
  }
  return out;
}

/** A plain headers object as MsgHdrs, or undefined when empty. */
export function objectToHeaders(o: Record<string, string | string[]> | undefined) {
  if (!o || Object.keys(o).length === 0) return undefined;
  const h = newHeaders();
  for (const [key, value] of Object.entries(o)) {
    for (const v of Array.isArray(value) ? value : [value]) h.append(key, String(v));
  }
  return h;
}
