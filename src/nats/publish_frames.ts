/**
 * Writes the publisher's `HPUB` frames straight into nats.js's outbound buffer.
 *
 * Why not `nc.publish`: per message it builds a `MsgHdrsImpl` (a Map, key canonicalisation, two
 * regular expressions), encodes the header and the protocol line in two `TextEncoder` calls and
 * queues four buffers that are concatenated again at the flush; with a window of 1000 that was
 * about 15% of a publish's CPU and much of its garbage (profiled at 100k messages). Here a frame
 * is written byte by byte into a shared arena (the subject's part of the line encoded once, no
 * string per frame: a template string per frame was a quarter of the publisher's allocations)
 * and queued as one buffer. This reaches into nats.js's `protocol.sendCommand` (not public API,
 * nats-core 3.x; checked once, on creation): without it every frame goes through `nc.publish`,
 * and so does every case the frame path does not handle itself (closed or draining connection,
 * the caller's own headers, a subject or msg id that is not plain printable ASCII, no headers
 * support, a payload over `max_payload`), where nats.js throws its own errors.
 * @module
 */
import { headers as newHeaders, type MsgHdrs, type NatsConnection } from "@nats-io/nats-core";

/** Sends one publish frame, its reply subject `<prefix>.<id in base 36>`. */
export type FrameWriter = (
  subject: string,
  id: number,
  msgId: string,
  headers: MsgHdrs | undefined,
  data: Uint8Array | string,
) => void;

interface Protocol {
  sendCommand(cmd: Uint8Array): void;
  noMorePublishing?: boolean;
  info?: { headers?: boolean; max_payload?: number };
  outMsgs: number;
  outBytes: number;
}

const encoder = new TextEncoder();
/** Frames are written one after the other into an arena; a full arena is left to the GC. */
const ARENA_BYTES = 64 * 1024;
/** Subjects and msg ids the frame path writes: printable, no white space (else nc.publish). */
const PLAIN = /^[!-~]+$/;
const HEADER_START = encoder.encode("\r\nNATS/1.0\r\nNats-Msg-Id: ");
const HEADER_END = encoder.encode("\r\n\r\n");
/** The header block's bytes besides the id's. */
const HEADER_BYTES = HEADER_START.length - 2 + HEADER_END.length;
const DIGITS = encoder.encode("0123456789abcdefghijklmnopqrstuvwxyz");
const SPACE = 0x20;
const CR = 0x0d;
const LF = 0x0a;
/** Room for the three numbers of the `HPUB` line and their separators. */
const NUMBERS_BYTES = 3 * 16 + 3;
/** Text payloads up to this size are encoded into one reused buffer (larger ones: a new one). */
const SCRATCH_BYTES = 64 * 1024;
const scratch = new Uint8Array(SCRATCH_BYTES);

/**
 * `text` as UTF-8: a view of a shared buffer, valid until the next call, when it fits. An
 * `encode` allocates a buffer per call, which cost ten times as much as the encoding itself for
 * an event's 300 bytes (3 µs against 0.3): a tenth of a 100k-file burst's main thread.
 */
function utf8(text: string): Uint8Array {
  const { read, written } = encoder.encodeInto(text, scratch);
  return read === text.length ? scratch.subarray(0, written) : encoder.encode(text);
}

/**
 * A writer of `HPUB subject reply hlen len` frames with a `Nats-Msg-Id` header (and `headers`
 * when given) on `nc`, their replies under `replyPrefix`.
 */
export function createFrameWriter(nc: NatsConnection, replyPrefix: string): FrameWriter {
  const viaPublish: FrameWriter = (subject, id, msgId, headers, data) => {
    const h = headers ?? newHeaders();
    h.set("Nats-Msg-Id", msgId);
    nc.publish(subject, data, { reply: `${replyPrefix}.${id.toString(36)}`, headers: h });
  };
  const protocol = (nc as unknown as { protocol?: Protocol }).protocol;
  if (typeof protocol?.sendCommand !== "function" || !PLAIN.test(replyPrefix)) return viaPublish;
  let arena = new Uint8Array(ARENA_BYTES);
  let pos = 0;
  // `HPUB <subject> <replyPrefix>.` of the last subject, encoded once.
  let plainSubject = "";
  let lineStart = new Uint8Array(0);

  /** Writes `n` in `radix` at `pos`. */
  const number = (n: number, radix: number) => {
    let digits = 1;
    for (let p = radix; p <= n; p *= radix) digits++;
    for (let i = pos + digits - 1; i >= pos; i--) {
      arena[i] = DIGITS[n % radix];
      n = Math.floor(n / radix);
    }
    pos += digits;
  };

  return (subject, id, msgId, headers, payload) => {
    const info = protocol.info;
    if (
      nc.isClosed() || protocol.noMorePublishing || info?.headers !== true || headers ||
      (subject !== plainSubject && !PLAIN.test(subject)) || !PLAIN.test(msgId)
    ) return viaPublish(subject, id, msgId, headers, payload);
    const data = typeof payload === "string" ? utf8(payload) : payload;
    if (subject !== plainSubject) {
      plainSubject = subject;
      lineStart = encoder.encode(`HPUB ${subject} ${replyPrefix}.`);
    }
    const hlen = HEADER_BYTES + msgId.length;
    const len = hlen + data.length;
    if (info.max_payload !== undefined && len > info.max_payload) {
      return viaPublish(subject, id, msgId, headers, payload);
    }
    // Written byte by byte: no string per frame (they were much of the publisher's garbage).
    const size = lineStart.length + NUMBERS_BYTES + HEADER_START.length + msgId.length +
      HEADER_END.length + data.length + 2;
    if (pos + size > arena.length) {
      arena = new Uint8Array(Math.max(ARENA_BYTES, size));
      pos = 0;
    }
    const start = pos;
    arena.set(lineStart, pos);
    pos += lineStart.length;
    number(id, 36);
    arena[pos++] = SPACE;
    number(hlen, 10);
    arena[pos++] = SPACE;
    number(len, 10);
    arena.set(HEADER_START, pos);
    pos += HEADER_START.length;
    // msgId is printable ASCII (checked above): one byte per character.
    for (let i = 0; i < msgId.length; i++) arena[pos++] = msgId.charCodeAt(i);
    arena.set(HEADER_END, pos);
    pos += HEADER_END.length;
    arena.set(data, pos);
    pos += data.length;
    arena[pos++] = CR;
    arena[pos++] = LF;
    protocol.outMsgs++;
    protocol.outBytes += len;
    protocol.sendCommand(arena.subarray(start, pos));
  };
}
