/**
 * A message delivered by a pull request of this role's {@link createPuller}, with the acks the
 * role needs. nats.js turns raw deliveries into its `JsMsg` only inside its own `fetch` /
 * `consume` (its converter is not exported), so the puller wraps them here.
 *
 * The reply subject of a JetStream delivery is its ack subject and carries the delivery info:
 * `$JS.ACK.<stream>.<consumer>.<deliveries>.<stream seq>.<consumer seq>.<ns>.<pending>` (before
 * 2.10) or `$JS.ACK.<domain>.<account hash>.<stream>.<consumer>.<deliveries>.<stream seq>...`.
 * @module
 */
import type { Msg, MsgHdrs } from "@nats-io/nats-core";
import type { Replies } from "../../nats/replies.ts";

/** Where a delivered message came from. */
export interface PulledInfo {
  /** Source stream. */
  stream: string;
  /** Consumer that delivered it. */
  consumer: string;
  /** Sequence in the stream. */
  streamSequence: number;
  /** How many times it has been delivered, this time included. */
  deliveryCount: number;
}

/** One delivered message. Every ack except `working()` is final: later ones are not sent. */
export interface PulledMsg {
  /** The message's subject in the stream. */
  subject: string;
  /** Payload. */
  data: Uint8Array;
  /** Headers; undefined when the message has none. */
  headers: MsgHdrs | undefined;
  /** Delivery info parsed from the ack subject. */
  info: PulledInfo;
  /** The message's sequence in the stream (`info.streamSequence`, named as nats.js names it). */
  seq: number;
  /** Acks and waits for the server's confirmation; rejects on timeout. */
  ackAck(timeoutMs: number): Promise<void>;
  /** Gives the message back, for redelivery after `millis` (at once when 0 or omitted). */
  nak(millis?: number): void;
  /** Never redeliver; `reason` is recorded by servers that honour it (see `nats/ack.ts`). */
  term(reason?: string): void;
  /** Resets the server's ack-wait timer (still working on it). */
  working(): void;
}

/** Parses a JetStream ack subject; undefined when `reply` is not one. */
export function parseAckSubject(reply: string | undefined): PulledInfo | undefined {
  const t = reply?.split(".") ?? [];
  if (t[0] !== "$JS" || t[1] !== "ACK") return undefined;
  if (t.length === 9) t.splice(2, 0, "_", ""); // the pre-2.10 form has no domain and hash
  if (t.length < 11) return undefined;
  const info = {
    stream: t[4],
    consumer: t[5],
    deliveryCount: Number(t[6]),
    streamSequence: Number(t[7]),
  };
  return Number.isInteger(info.deliveryCount) && Number.isInteger(info.streamSequence)
    ? info
    : undefined;
}

const enc = new TextEncoder();
const ACK = enc.encode("+ACK");
const WPI = enc.encode("+WPI");

/**
 * Wraps a delivery; undefined when `msg` is not a JetStream delivery (no ack subject). Its
 * `ackAck` asks through `replies`.
 */
export function pulledMsg(replies: Replies, msg: Msg): PulledMsg | undefined {
  const info = parseAckSubject(msg.reply);
  if (!info) return undefined;
  const reply = msg.reply!;
  let done = false;
  const send = (payload: string) => {
    if (done) return;
    done = true;
    msg.respond(enc.encode(payload));
  };
  return {
    subject: msg.subject,
    data: msg.data,
    headers: msg.headers,
    info,
    seq: info.streamSequence,
    async ackAck(timeoutMs) {
      done = true;
      const answer = await replies.request(reply, ACK, timeoutMs);
      // A status reply (503: no consumer leader to take the ack) is not a confirmation.
      const status = answer.headers?.code ?? 0;
      if (status >= 300) {
        throw new Error(`ack of ${reply} answered ${status} ${answer.headers?.description ?? ""}`);
      }
    },
    nak(millis) {
      send(millis ? `-NAK ${JSON.stringify({ delay: Math.round(millis * 1e6) })}` : "-NAK");
    },
    term(reason) {
      send(reason ? `+TERM ${reason}` : "+TERM");
    },
    working() {
      if (!done) msg.respond(WPI);
    },
  };
}
