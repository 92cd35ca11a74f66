/**
 * Hands nats.js's protocol parser plain `Uint8Array` views of what the socket read, not Node
 * `Buffer`s.
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
 * public API, nats-core 3.x): the parser it holds now and each one it is given later get the
 * plain views. A connection without one is left as it is.
 * @module
 */
import type { NatsConnection } from "@nats-io/nats-core";

interface Parser {
  parse(buf: Uint8Array): void;
}

/** Makes the connection's parsers, present and future, read plain `Uint8Array`s; see the module. */
export function plainReads(nc: NatsConnection): void {
  const protocol = (nc as unknown as { protocol?: { parser?: Parser } }).protocol;
  if (typeof protocol?.parser?.parse !== "function") return;
  let parser = withPlainReads(protocol.parser);
  Object.defineProperty(protocol, "parser", {
    configurable: true,
    enumerable: true,
    get: () => parser,
    set: (p: Parser) => parser = withPlainReads(p),
  });
}

function withPlainReads(parser: Parser): Parser {
  if (typeof parser?.parse !== "function") return parser;
  const parse = parser.parse.bind(parser);
  parser.parse = (buf) =>
    parse(
      Object.getPrototypeOf(buf) === Uint8Array.prototype
        ? buf
        : new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength),
    );
  return parser;
}
