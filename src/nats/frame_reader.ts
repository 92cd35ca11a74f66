/**
 * Reads the `MSG` and `HMSG` frames nats-server sends with a few native byte searches, and hands
 * everything else to nats.js's own parser.
 *
 * nats.js's parser (a port of nats.go's) runs a state machine over every byte of what the socket
 * read, then splits a message's argument line once more, byte by byte, into a new array of
 * subarrays. Profiled at 100k lines of `jetport publish --file`, reading the PubAcks that way was
 * 17% of the command's CPU: the parser's loop 10%, the argument split 7%. A frame the server
 * writes has one form (`MSG <subject> <sid> [<reply>] <size>\r\n<payload>\r\n`, `HMSG` with the
 * header size before the total size, single spaces): here the line end and each space are found
 * with `indexOf`, the numbers are read in place, and the message goes to the same dispatcher with
 * the same argument object and payload view the parser would have built. No byte is copied.
 *
 * A frame cut by the end of a read is kept (a view) until the rest has come, then read here, copied
 * once. What is not such a frame goes to nats.js's parser unchanged: any other operation (`PING`,
 * `+OK`, `INFO`, `-ERR`, one line at a time, so the frames after it are read here again), and any
 * line that differs from the form above in the smallest way (tabs, two spaces, lower case, a number
 * that is not digits), which the parser accepts or rejects as it always has. This reaches into the
 * parser's state and dispatcher (not public API, nats-core 3.x); `fast_reads.ts` installs it only
 * on a parser that has them.
 * @module
 */
import { Kind, State } from "@nats-io/nats-core/internal";
import type { MsgArg, ParserEvent } from "@nats-io/nats-core/internal";
import { concatBytes } from "../platform/bytes.ts";

/** The part of nats.js's `Parser` this reads and drives. */
export interface FrameParser {
  state: number;
  dispatcher: { push(e: ParserEvent): void };
  parse(buf: Uint8Array): void;
}

const CR = 13;
const NL = 10;
const TAB = 9;
const SPACE = 32;
const H = 72;
const M = 77;
const S = 83;
const G = 71;
/** nats.js's own limit of a message's size. */
const MAX_SIZE = 64 * 1024 * 1024;
/** A line longer than this without its end is left to nats.js's parser. */
const MAX_LINE = 64 * 1024;
/** {@link readFrame}: the frame's line is not whole yet. */
const NEED_LINE = -1;

/**
 * A `parse` for `parser` that reads whole `MSG`/`HMSG` frames itself and passes the rest to
 * `parse`, the parser's own (bound) method; see the module.
 */
export function frameReader(
  parser: FrameParser,
  parse: (buf: Uint8Array) => void,
): (buf: Uint8Array) => void {
  // The start of a frame or line that the last read cut off, kept until the rest has come.
  let pending: Uint8Array[] = [];
  let pendingLength = 0;
  let needed = 0;
  const keep = (rest: Uint8Array, length: number) => {
    pending.push(rest);
    pendingLength = rest.length;
    needed = length;
  };
  return (chunk) => {
    let buf = chunk;
    if (pending.length > 0) {
      pending.push(chunk);
      pendingLength += chunk.length;
      if (pendingLength < needed) return;
      buf = concatBytes(pending, pendingLength);
      pending = [];
      pendingLength = needed = 0;
    }
    let i = 0;
    while (i < buf.length && parser.state === State.OP_START) {
      const end = readFrame(parser, buf, i);
      if (end > 0) {
        i = end;
        continue;
      }
      // Cut off by the end of this read: kept (a view, copied once the rest is here).
      if (end < 0) return keep(buf.subarray(i), end === NEED_LINE ? 0 : -end);
      // Not a frame of the server's form: nats.js's parser reads it. Another operation is one
      // line, after which the parser is back at a frame's start.
      const op = buf[i];
      if (op === M || op === H) break;
      const nl = buf.indexOf(NL, i);
      if (nl < 0) {
        if (buf.length - i > MAX_LINE) break;
        return keep(buf.subarray(i), 0);
      }
      parse(buf.subarray(i, nl + 1));
      i = nl + 1;
    }
    if (i < buf.length) parse(i === 0 ? buf : buf.subarray(i));
  };
}

/**
 * Dispatches the frame at `at` and returns the index after it; 0 when what is there is not a frame
 * of the server's form; when the frame is not whole in `buf`: minus the bytes it takes from `at`,
 * or {@link NEED_LINE} when its line has not ended yet.
 */
function readFrame(parser: FrameParser, buf: Uint8Array, at: number): number {
  const headers = buf[at] === H;
  const op = headers ? at + 1 : at;
  // Too short to tell: wait for more, when it could still become a frame.
  if (op + 4 > buf.length) return buf[at] === M || headers ? NEED_LINE : 0;
  if (buf[op] !== M || buf[op + 1] !== S || buf[op + 2] !== G || buf[op + 3] !== SPACE) return 0;
  const first = op + 4;
  const nl = buf.indexOf(NL, first);
  if (nl < 0) return buf.length - at > MAX_LINE ? 0 : NEED_LINE;
  if (buf[nl - 1] !== CR) return 0;
  const lineEnd = nl - 1;
  // The spaces between the arguments: subject sid [reply] [header size] size.
  let s1 = -1, s2 = -1, s3 = -1, s4 = -1;
  for (let i = first; i < lineEnd; i++) {
    const c = buf[i];
    if (c === TAB || c === CR) return 0;
    if (c !== SPACE) continue;
    if (s1 < 0) s1 = i;
    else if (s2 < 0) s2 = i;
    else if (s3 < 0) s3 = i;
    else if (s4 < 0) s4 = i;
    else return 0;
  }
  // The arguments after the sid: [reply] [header size] size.
  const last = s4 >= 0 ? s4 : s3 >= 0 ? s3 : s2;
  const afterSid = s4 >= 0 ? 3 : s3 >= 0 ? 2 : s2 >= 0 ? 1 : 0;
  const hasReply = afterSid === (headers ? 3 : 2);
  if (afterSid === 0 || (!hasReply && afterSid !== (headers ? 2 : 1))) return 0;
  const subject = buf.subarray(first, s1);
  const sid = digits(buf, s1 + 1, s2);
  const reply = hasReply ? buf.subarray(s2 + 1, s3) : undefined;
  const hdr = !headers ? -1 : hasReply ? digits(buf, s3 + 1, s4) : digits(buf, s2 + 1, s3);
  const size = digits(buf, last + 1, lineEnd);
  if (subject.length === 0 || reply?.length === 0 || sid < 0 || size < 0 || size > MAX_SIZE) {
    return 0;
  }
  if (headers && (hdr < 0 || hdr > size)) return 0;
  const payload = nl + 1;
  const end = payload + size;
  // Not all here yet: how many bytes from `at` the frame takes.
  if (end + 2 > buf.length) return at - (end + 2);
  if (buf[end] !== CR || buf[end + 1] !== NL) return 0;
  const msg: MsgArg = { sid, hdr, size, subject, reply };
  parser.dispatcher.push({ kind: Kind.MSG, msg, data: buf.subarray(payload, end) });
  return end + 2;
}

/** The decimal number in `buf[from, to)`; -1 when it is empty, too long or not all digits. */
function digits(buf: Uint8Array, from: number, to: number): number {
  if (to <= from || to - from > 15) return -1;
  let n = 0;
  for (let i = from; i < to; i++) {
    const d = buf[i] - 48;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}
