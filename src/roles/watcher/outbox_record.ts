/**
 * One outbox record and its line in a segment file: the record's fields as JSON, a tab, then the
 * event's payload as it is. The payload is already JSON text; stored inside the JSON as a string,
 * every quote in it was escaped on the way in and unescaped on the way out, and that
 * `JSON.stringify` was the largest cost of writing a 100k-file burst to the outbox.
 * `JSON.stringify` writes no raw tab or newline, so the first tab of a line ends the fields, and a
 * payload, one line of JSON, runs to the end of the line. Lines without a tab (the whole record as
 * one JSON object) are read as before, so an outbox written by an older version is sent after an
 * upgrade.
 * @module
 */
import type { FileState } from "./state.ts";

/** One event waiting to be published. */
export interface OutboxRecord {
  /** Position in the outbox, 1, 2, ... */
  n: number;
  /** Subject to publish to. */
  subject: string;
  /** `Nats-Msg-Id`. */
  msgId: string;
  /** The payload, JSON text (one line, as `JSON.stringify` writes it, is stored as it is). */
  data: string;
  /** Extra headers. */
  headers?: Record<string, string>;
  /** The snapshot change the event stands for (not published): replayed onto an older snapshot. */
  change?: { watch: string; type: string; path: string; oldPath?: string; state: FileState };
}

const q = JSON.stringify;

/** A number as `JSON.stringify` writes it (`null` for NaN and the infinities). */
function num(v: number): string | number {
  return Number.isFinite(v) ? v : "null";
}

/**
 * The line of `rec` (without its newline). Written field by field: a burst writes 100k of them,
 * and the generic `JSON.stringify` of the record cost several times as much. A payload that is not
 * one line (never one the watcher makes) is kept the older way, inside the record's JSON.
 */
export function formatRecord(rec: OutboxRecord): string {
  if (rec.data.includes("\n")) return JSON.stringify(rec);
  let fields = `{"n":${num(rec.n)},"subject":${q(rec.subject)},"msgId":${q(rec.msgId)}`;
  if (rec.headers !== undefined) fields += `,"headers":${q(rec.headers)}`;
  const c = rec.change;
  if (c !== undefined) {
    fields += `,"change":{"watch":${q(c.watch)},"type":${q(c.type)},"path":${q(c.path)}`;
    if (c.oldPath !== undefined) fields += `,"oldPath":${q(c.oldPath)}`;
    const s = c.state;
    fields += `,"state":{"size":${num(s.size)},"mtime":${num(s.mtime)},"ino":${num(s.ino)},` +
      `"dir":${s.dir === true}}}`;
  }
  return `${fields}}\t${rec.data}`;
}

/** The record on `line`, or undefined when it is not one (a torn write). */
export function parseRecord(line: string): OutboxRecord | undefined {
  try {
    const tab = line.indexOf("\t");
    const rec = JSON.parse(tab === -1 ? line : line.slice(0, tab));
    if (typeof rec?.n !== "number") return undefined;
    if (tab !== -1) rec.data = line.slice(tab + 1);
    return typeof rec.data === "string" ? rec : undefined;
  } catch {
    return undefined;
  }
}
