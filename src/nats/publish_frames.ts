/**
 * Writes the publisher's `HPUB` frames straight into nats.js's outbound buffer.
 *
 * Why not `nc.publish`: per message it builds a `MsgHdrsImpl` (a Map, key canonicalisation, two
 * regular expressions), encodes the header and the protocol line in two `TextEncoder` calls and
 * queues four buffers that are concatenated again at the flush; with a window of 1000 that was
 * about 15% of a publish's CPU and much of its garbage (profiled at 100k messages). Here a frame
 * is one string encoded once into a shared arena, queued as one buffer. This reaches into
 * nats.js's `protocol.sendCommand` (not public API, nats-core 3.x): when it is not there every
 * frame goes through `nc.publish`, and so does every case it does not handle itself (closed or
 * draining connection, the caller's own headers, a subject or msg id that is not plain printable
 * ASCII, no headers support, a payload over `max_payload`) goes through `nc.publish`, which throws nats.js's own errors.
 * @module
 */
import { headers as newHeaders, type MsgHdrs, type NatsConnection } from "@nats-io/nats-core";

/** Sends one publish frame (`reply` under the writer's reply prefix). */
export type FrameWriter = (
  subject: string,
  reply: string,
  msgId: string,
  headers: MsgHdrs | undefined,
  data: Uint8Array,
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

/**
 * A writer of `HPUB subject reply hlen len` frames with a `Nats-Msg-Id` header (and `headers`
 * when given) on `nc`, their replies under `replyPrefix`.
 */
export function createFrameWriter(nc: NatsConnection, replyPrefix: string): FrameWriter {
  const viaPublish: FrameWriter = (subject, reply, msgId, headers, data) => {
    const h = headers ?? newHeaders();
    h.set("Nats-Msg-Id", msgId);
    nc.publish(subject, data, { reply, headers: h });
  };
  const protocol = (nc as unknown as { protocol?: Protocol }).protocol;
  if (typeof protocol?.sendCommand !== "function" || !PLAIN.test(replyPrefix)) return viaPublish;
  let arena = new Uint8Array(ARENA_BYTES);
  let pos = 0;
  let plainSubject = "";

  return (subject, reply, msgId, headers, data) => {
    const info = protocol.info;
    if (
      nc.isClosed() || protocol.noMorePublishing || info?.headers !== true ||
      (subject !== plainSubject && !PLAIN.test(subject))
    ) return viaPublish(subject, reply, msgId, headers, data);
    plainSubject = subject;
    // Caller's headers (rare: a header per message costs the general path anyway) go as before.
    if (headers || !PLAIN.test(msgId)) return viaPublish(subject, reply, msgId, headers, data);
    const head = `NATS/1.0\r\nNats-Msg-Id: ${msgId}\r\n\r\n`;
    const hlen = head.length;
    const len = hlen + data.length;
    if (info.max_payload !== undefined && len > info.max_payload) {
      return viaPublish(subject, reply, msgId, headers, data);
    }
    const text = `HPUB ${subject} ${reply} ${hlen} ${len}\r\n${head}`;
    // ASCII only (checked above), so characters are bytes.
    const size = text.length + data.length + 2;
    if (pos + size > arena.length) {
      arena = new Uint8Array(Math.max(ARENA_BYTES, size));
      pos = 0;
    }
    const start = pos;
    pos += encoder.encodeInto(text, arena.subarray(pos)).written;
    arena.set(data, pos);
    pos += data.length;
    arena[pos++] = 0x0d;
    arena[pos++] = 0x0a;
    protocol.outMsgs++;
    protocol.outBytes += len;
    protocol.sendCommand(arena.subarray(start, pos));
  };
}
