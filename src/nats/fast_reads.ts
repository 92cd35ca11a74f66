/**
 * Makes every parser of a nats.js connection read faster: plain `Uint8Array` views of what the
 * socket read instead of Node `Buffer`s, and whole `MSG`/`HMSG` frames read by `frame_reader.ts`.
 *
 * `@nats-io/transport-node` yields the `Buffer`s Deno's `node:net` reads. The parser cuts every
 * message's subject, reply and payload out of them with `subarray`, and `Buffer`'s `subarray`
 * builds another `Buffer` through Deno's JavaScript `FastBuffer` constructor: 4% of
 * `jetport publish --file`'s CPU went there (the PubAcks it reads, profiled at 100k lines), and
 * every role that reads messages pays it per message. A `Uint8Array` over the same bytes costs one
 * object per read, and every cut after it is V8's own. Messages' `data` are then `Uint8Array`s, the
 * type nats.js declares for them; no byte is copied.
 *
 * This reaches into nats.js's protocol handler (`parser`, a new one on every (re)connect; not
 * public API, nats-core 3.x): the parser it holds now and each one it is given later read this
 * way. A connection or parser without what is used here is left as it is.
 * @module
 */
import type { NatsConnection } from "@nats-io/nats-core";
import { type FrameParser, frameReader } from "./frame_reader.ts";

/** Makes the connection's parsers, present and future, read faster; see the module. */
export function fastReads(nc: NatsConnection): void {
  const protocol = (nc as unknown as { protocol?: { parser?: FrameParser } }).protocol;
  if (typeof protocol?.parser?.parse !== "function") return;
  let parser = withFastReads(protocol.parser);
  Object.defineProperty(protocol, "parser", {
    configurable: true,
    enumerable: true,
    get: () => parser,
    set: (p: FrameParser) => parser = withFastReads(p),
  });
}

function withFastReads(parser: FrameParser): FrameParser {
  if (typeof parser?.parse !== "function") return parser;
  const parse = parser.parse.bind(parser);
  const read = typeof parser.state === "number" && typeof parser.dispatcher?.push === "function"
    ? frameReader(parser, parse)
    : parse;
  parser.parse = (buf) =>
    read(
      Object.getPrototypeOf(buf) === Uint8Array.prototype
        ? buf
        : new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength),
    );
  return parser;
}
