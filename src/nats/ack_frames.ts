/**
 * Acks of many JetStream messages as one buffer of `PUB <ack subject> 4\r\n+ACK\r\n` frames (what
 * `msg.ack()` sends for each), built from the ack subjects' bytes as nats.js's parser left them,
 * and written straight into nats.js's outbound buffer (`protocol.sendCommand`, as
 * `publish_frames.ts` does for publishes). Per message, `msg.ack()` decodes the ack subject into
 * a string, builds a protocol line and encodes it again, and reading `msg.seq` splits that string
 * into tokens: together a tenth of the monitor's CPU at 100k events (profiled). Here a message's
 * stream sequence is read from the same bytes, and the frames of a group, kept, can be sent again
 * as they are (`sendAckFrames`) after a consumer-leader change.
 *
 * Not public API of nats.js (nats-core / jetstream 3.x: `JsMsgImpl.msg` → `MsgImpl._msg.reply`,
 * `.publisher.sendCommand`, `.didAck`); checked per message, and where it is not as expected the
 * public path is taken (`msg.ack()`, `msg.seq`, `nc.publish`).
 * @module
 */
import type { NatsConnection } from "@nats-io/nats-core";
import type { JsMsg } from "@nats-io/jetstream";

/** What of nats.js's message objects this reaches into. */
interface MsgInternals {
  didAck?: unknown;
  msg?: { _msg?: { reply?: unknown }; publisher?: unknown; reply?: unknown };
}

/** nats.js's protocol handler, the part used here. */
interface Sender {
  sendCommand(cmd: Uint8Array): void;
}

const encoder = new TextEncoder();
const PUB = encoder.encode("PUB ");
const ACK_END = encoder.encode(" 4\r\n+ACK\r\n");
const ACK = encoder.encode("+ACK");
const FRAME_BYTES = PUB.length + ACK_END.length;
/** `$JS.ACK.`: every JetStream ack subject starts so. */
const ACK_PREFIX = encoder.encode("$JS.ACK.");
const DOT = 0x2e;
const DIGIT_0 = 0x30;

const isSender = (p: unknown): p is Sender =>
  typeof (p as Sender | undefined)?.sendCommand === "function";

/** The ack subject of `msg` as the bytes nats.js parsed it from, or undefined. */
function rawReply(msg: JsMsg): Uint8Array | undefined {
  const reply = (msg as unknown as MsgInternals).msg?._msg?.reply;
  return reply instanceof Uint8Array && reply.length > 0 ? reply : undefined;
}

/**
 * The stream sequence in ack subject `s`, or -1 when `s` is not one. Token for token what
 * nats.js's `parseInfo` reads: `$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>...`
 * (9 tokens) or `$JS.ACK.<domain>.<account hash>.<stream>.<consumer>.<delivered>.<stream seq>...`
 * (11 or more).
 */
export function ackSubjectSeq(s: Uint8Array): number {
  for (let i = 0; i < ACK_PREFIX.length; i++) if (s[i] !== ACK_PREFIX[i]) return -1;
  let tokens = 1;
  for (let i = 0; i < s.length; i++) if (s[i] === DOT) tokens++;
  const index = tokens === 9 ? 5 : tokens >= 11 ? 7 : -1;
  if (index < 0) return -1;
  let i = 0;
  for (let dots = 0; dots < index; i++) if (s[i] === DOT) dots++;
  let seq = 0;
  const start = i;
  for (; i < s.length && s[i] !== DOT; i++) {
    const d = s[i] - DIGIT_0;
    if (d < 0 || d > 9) return -1;
    seq = seq * 10 + d;
  }
  return i === start || i - start > 15 ? -1 : seq;
}

/** The stream sequence of `msg`, read from its ack subject's bytes (else `msg.seq`). */
export function streamSeq(msg: JsMsg): number {
  const reply = rawReply(msg);
  const seq = reply ? ackSubjectSeq(reply) : -1;
  return seq >= 0 ? seq : msg.seq;
}

/**
 * Acks every message of `msgs` (none acked before) and returns the ack frames, to send again with
 * {@link sendAckFrames}. The frames go out as one protocol write when every message came through
 * the same nats.js connection as expected; otherwise each is acked with `msg.ack()`. Messages
 * without an ack subject (not JetStream deliveries) are acked with `msg.ack()` and have no frame.
 */
export function ackAll(msgs: readonly JsMsg[]): Uint8Array {
  const replies: Uint8Array[] = [];
  let bytes = 0;
  let sender: Sender | undefined;
  let oneWrite = msgs.length > 0;
  for (const msg of msgs) {
    const m = msg as unknown as MsgInternals;
    let reply = rawReply(msg);
    const publisher = m.msg?.publisher;
    if (
      !reply || m.didAck !== false || !isSender(publisher) ||
      (sender !== undefined && publisher !== sender)
    ) {
      oneWrite = false;
      const text = m.msg?.reply;
      reply ??= typeof text === "string" && text !== "" ? encoder.encode(text) : undefined;
    } else sender = publisher;
    if (!reply) continue;
    replies.push(reply);
    bytes += FRAME_BYTES + reply.length;
  }
  const frames = new Uint8Array(bytes);
  let pos = 0;
  for (const reply of replies) {
    frames.set(PUB, pos);
    pos += PUB.length;
    frames.set(reply, pos);
    pos += reply.length;
    frames.set(ACK_END, pos);
    pos += ACK_END.length;
  }
  if (oneWrite && sender) {
    for (const msg of msgs) (msg as unknown as MsgInternals).didAck = true;
    sender.sendCommand(frames);
  } else {
    for (const msg of msgs) msg.ack();
  }
  return frames;
}

/**
 * Sends ack frames from {@link ackAll} again on `nc` (acking a message the consumer no longer has
 * pending is a no-op on the server, so this is always safe). One write where nats.js's internals
 * are as expected, else a `nc.publish` per frame.
 */
export function sendAckFrames(nc: NatsConnection, frames: Uint8Array): void {
  if (frames.length === 0) return;
  const protocol = (nc as unknown as { protocol?: unknown }).protocol;
  if (isSender(protocol) && !nc.isClosed()) {
    protocol.sendCommand(frames);
    return;
  }
  for (const line of new TextDecoder().decode(frames).split("\r\n")) {
    if (line.startsWith("PUB ")) nc.publish(line.slice(4, line.lastIndexOf(" ")), ACK);
  }
}
