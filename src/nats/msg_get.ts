/**
 * Reading one stored message back by stream sequence, exactly as it was published: direct get
 * (`$JS.API.DIRECT.GET.<stream>`, cheaper, served by replicas) when the stream has
 * `allow_direct`, the message-get API (`$JS.API.STREAM.MSG.GET.<stream>`, every version)
 * otherwise.
 * @module
 */
import { headers as newHeaders, type MsgHdrs } from "@nats-io/nats-core";
import type { JetStreamManager } from "@nats-io/jetstream";

/** A stored message: original subject, payload and headers. */
export interface OriginalMessage {
  /** The subject it was published to. */
  subject: string;
  /** Its stream sequence. */
  seq: number;
  /** The payload, byte for byte. */
  data: Uint8Array;
  /** The headers it was published with (undefined when it had none). */
  headers?: MsgHdrs;
  /** When the stream stored it. */
  time: Date;
}

/**
 * Headers a direct-get reply appends after the stored message's own headers (the server adds
 * them to the end of the header block); the last value of each is the server's.
 */
const DIRECT_GET_METADATA = [
  "Nats-Stream",
  "Nats-Sequence",
  "Nats-Time-Stamp",
  "Nats-Subject",
  "Nats-Last-Sequence",
  "Nats-Num-Pending",
];

/** The stored message's own headers from a direct-get reply: the server's metadata removed. */
export function withoutDirectGetMetadata(reply: MsgHdrs): MsgHdrs | undefined {
  const out = newHeaders();
  let count = 0;
  for (const key of reply.keys()) {
    const values = reply.values(key);
    const own = DIRECT_GET_METADATA.includes(key) ? values.slice(0, -1) : values;
    for (const v of own) {
      out.append(key, v);
      count++;
    }
  }
  return count > 0 ? out : undefined;
}

/**
 * Reads message `seq` of `stream`; undefined when it is no longer there (deleted, expired,
 * acked away under workqueue/interest retention). `direct` chooses direct get (only when the
 * stream has `allow_direct: true`).
 */
export async function getOriginal(
  jsm: JetStreamManager,
  stream: string,
  seq: number,
  direct: boolean,
): Promise<OriginalMessage | undefined> {
  if (direct) {
    const m = await jsm.direct.getMessage(stream, { seq });
    if (!m) return undefined;
    return {
      subject: m.subject,
      seq: m.seq,
      data: m.data,
      headers: withoutDirectGetMetadata(m.header),
      time: m.time,
    };
  }
  const m = await jsm.streams.getMessage(stream, { seq });
  if (!m) return undefined;
  const hasHeaders = m.header && m.header.keys().length > 0;
  return {
    subject: m.subject,
    seq: m.seq,
    data: m.data,
    headers: hasHeaders ? m.header : undefined,
    time: m.time,
  };
}
