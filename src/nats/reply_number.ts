/**
 * The number a reply subject `<prefix>.<n in base 36>` ends with: how the publisher's in-flight
 * table and the request table find the message a reply answers.
 *
 * Read from the subject's bytes while nats.js still holds them (not public API, nats-core 3.x):
 * `msg.subject` decodes a string per reply, which with the slice and `parseInt` after it was 3% of
 * `jetport publish --file`'s CPU (profiled at 100k lines). A message without them is read through
 * `msg.subject`.
 * @module
 */
import type { Msg } from "@nats-io/nats-core";

/** The base-36 number after `prefixLength` characters and a dot; NaN when there is none. */
export function replyNumber(msg: Msg, prefixLength: number): number {
  const bytes = (msg as unknown as { _msg?: { subject?: unknown } })._msg?.subject;
  if (!(bytes instanceof Uint8Array)) return parseInt(msg.subject.slice(prefixLength + 1), 36);
  const start = prefixLength + 1;
  if (start >= bytes.length || bytes.length - start > 10) return NaN;
  let n = 0;
  for (let i = start; i < bytes.length; i++) {
    const c = bytes[i];
    const digit = c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x7a ? c - 0x57 : -1;
    if (digit < 0) return NaN;
    n = n * 36 + digit;
  }
  return n;
}
