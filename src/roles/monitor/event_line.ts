/**
 * File events (docs/design.md "File event") as the monitor reads them, and the lines it writes: the
 * original adapter's text line `[%Y-%m-%d %H:%M:%S] File ADDED: <path>, Size: <n.nn> KB`, or one
 * JSON object per line. Pure functions: no I/O.
 * @module
 */

/** The fields of a file event the monitor uses; other fields are kept for JSON output. */
export interface FileEvent {
  /** `added`, `modified`, `deleted` or `renamed` (from `operation`, else from `type`). */
  operation: string;
  /** Path relative to `root` (watcher events) or as the original adapter sent it. */
  path: string;
  /** The watch root, when the event has one. */
  root?: string;
  /** The previous path of a rename (relative to `root`). */
  old_path?: string;
  /** Size in KB, as the original adapter reported it. */
  file_size?: number;
  /** Size in bytes. */
  size?: number;
  /** When the change happened (ISO-8601, or epoch seconds / milliseconds). */
  timestamp?: string | number;
  /** Everything else the event carries. */
  [key: string]: unknown;
}

/** A message whose payload is not a file event. */
export class BadFileEventError extends Error {
  /** Machine-readable code. */
  readonly code = "BAD_FILE_EVENT";
  /** Creates the error; `message` says what is wrong with the payload. */
  constructor(message: string) {
    super(message);
    this.name = "BadFileEventError";
  }
}

/** `type` → `operation`, for events that only carry the type. */
const OPERATION_OF_TYPE: Record<string, string> = {
  "file.created": "added",
  "file.modified": "modified",
  "file.deleted": "deleted",
  "file.renamed": "renamed",
};

const decoder = new TextDecoder("utf-8", { fatal: true });

function optional(ev: Record<string, unknown>, key: string, type: string): void {
  const value = ev[key];
  if (value !== undefined && value !== null && typeof value !== type) {
    throw new BadFileEventError(`"${key}" must be a ${type}, got ${JSON.stringify(value)}`);
  }
}

/**
 * The payloads of a batch as text, decoded in one call instead of one each (joined by NUL bytes,
 * which valid JSON text never holds, and split again; a tenth of parsing an event measured): a
 * payload's text, or its bytes where they cannot be told apart so (not valid UTF-8, a NUL of its
 * own) and are decoded on their own by {@link parseFileEvent}. Equal to decoding each alone: a
 * sequence cut off before a NUL is invalid in the whole too, and the byte order mark a payload
 * starts with is dropped as a decoder drops it at its start.
 */
export function decodePayloads(payloads: readonly Uint8Array[]): (string | Uint8Array)[] {
  if (payloads.length < 2) return [...payloads];
  let bytes = payloads.length - 1;
  for (const p of payloads) bytes += p.length;
  const joined = new Uint8Array(bytes);
  let pos = 0;
  for (const p of payloads) {
    joined.set(p, pos);
    pos += p.length + 1; // the NUL between: the array is zeroed
  }
  let texts: string[];
  try {
    texts = decoder.decode(joined).split("\0");
  } catch {
    return [...payloads];
  }
  if (texts.length !== payloads.length) return [...payloads];
  for (let i = 1; i < texts.length; i++) {
    if (texts[i].charCodeAt(0) === 0xfeff) texts[i] = texts[i].slice(1);
  }
  return texts;
}

/**
 * Parses a message payload (its bytes, or its text from {@link decodePayloads}) into a
 * {@link FileEvent}; throws {@link BadFileEventError}.
 */
export function parseFileEvent(payload: Uint8Array | string): FileEvent {
  let value: unknown;
  try {
    value = JSON.parse(typeof payload === "string" ? payload : decoder.decode(payload));
  } catch (err) {
    const what = err instanceof SyntaxError ? "not valid JSON" : "not valid UTF-8";
    const bytes = typeof payload === "string"
      ? new TextEncoder().encode(payload).length
      : payload.length;
    throw new BadFileEventError(`payload is ${what} (${bytes} bytes)`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new BadFileEventError("payload is not a JSON object");
  }
  const ev = value as Record<string, unknown>;
  if (typeof ev.path !== "string" || ev.path === "") {
    throw new BadFileEventError('"path" is missing or not a non-empty string');
  }
  optional(ev, "root", "string");
  optional(ev, "old_path", "string");
  optional(ev, "type", "string");
  optional(ev, "operation", "string");
  optional(ev, "file_size", "number");
  optional(ev, "size", "number");
  if (typeof ev.timestamp !== "string" && typeof ev.timestamp !== "number") delete ev.timestamp;
  const operation = (ev.operation as string | undefined) ??
    OPERATION_OF_TYPE[ev.type as string];
  if (!operation) {
    throw new BadFileEventError(
      `neither "operation" nor a known "type" (${Object.keys(OPERATION_OF_TYPE).join(", ")})`,
    );
  }
  // In place, not a copy: the parsed object is this message's alone (a copy per event was a
  // tenth of the formatting's time).
  ev.operation = operation;
  return ev as FileEvent;
}

/**
 * Joins the watch root and a relative path the way the original adapter printed paths
 * (`test/storage` + `a.txt` → `test/storage/a.txt`; a leading `./` is dropped). A root with
 * backslashes (Windows) gets backslashes. Without a root the path is used as it is.
 */
export function displayPath(root: string | undefined, path: string): string {
  if (!root) return path;
  if (root !== lastRoot.root) lastRoot = rootPrefix(root);
  const rel = lastRoot.windows ? path.replaceAll("/", "\\") : path;
  return lastRoot.prefix + rel;
}

/** What {@link displayPath} puts before a path under `root`. */
function rootPrefix(root: string): { root: string; prefix: string; windows: boolean } {
  const windows = root.includes("\\") && !root.includes("/");
  const base = root.replace(/^\.[\\/]+/, "").replace(/[\\/]+$/, "");
  const prefix = base === "" || base === "." ? "" : base + (windows ? "\\" : "/");
  return { root, prefix, windows };
}

/** The last root's prefix: the events of a stream mostly share one or a few roots. */
let lastRoot = rootPrefix("");

/** When the change happened in epoch milliseconds, or undefined without a usable timestamp. */
function eventMillis(ev: FileEvent): number | undefined {
  const t = ev.timestamp;
  if (typeof t === "number") return t < 1e12 ? t * 1000 : t;
  if (typeof t === "string") {
    const ms = Date.parse(t);
    if (!Number.isNaN(ms)) return ms;
  }
  return undefined;
}

const pad = (n: number) => String(n).padStart(2, "0");

/** `%Y-%m-%d %H:%M:%S` in the process's local time zone (as Python's `strftime` prints). */
export function formatLocalTime(d: Date): string {
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** The last second formatted: events come in bursts, many of them within the same second. */
let lastSecond = { second: NaN, text: "" };

/** {@link formatLocalTime} of epoch milliseconds `ms`, remembering the last second's text. */
function localTimeOf(ms: number): string {
  const second = Math.floor(Math.trunc(ms) / 1000); // a Date drops the fraction of its ms
  if (second !== lastSecond.second) {
    lastSecond = { second, text: formatLocalTime(new Date(second * 1000)) };
  }
  return lastSecond.text;
}

/** Size in KB with two decimals: `file_size` when present, else `size` / 1024, else 0. */
export function sizeKb(ev: FileEvent): string {
  const kb = typeof ev.file_size === "number"
    ? ev.file_size
    : typeof ev.size === "number"
    ? ev.size / 1024
    : 0;
  return kb.toFixed(2);
}

/**
 * The original adapter's line, newline included:
 * `[2025-01-01 12:00:00] File ADDED: test/storage/a.txt, Size: 0.01 KB`. A rename names the
 * new path and appends `, From: <old path>`.
 */
export function textLine(ev: FileEvent, received: Date): string {
  const from = ev.old_path ? `, From: ${oneLine(displayPath(ev.root, ev.old_path))}` : "";
  const time = localTimeOf(eventMillis(ev) ?? received.getTime());
  return `[${time}] File ${upperCase(ev.operation)}: ` +
    `${oneLine(displayPath(ev.root, ev.path))}, Size: ${sizeKb(ev)} KB${from}\n`;
}

/** The operations' words, upper-cased once. */
const UPPER: Record<string, string> = {
  added: "ADDED",
  modified: "MODIFIED",
  deleted: "DELETED",
  renamed: "RENAMED",
};

const upperCase = (operation: string) =>
  Object.hasOwn(UPPER, operation) ? UPPER[operation] : operation.toUpperCase();

/** Control characters, and the Unicode line and paragraph separators some viewers break on. */
// deno-lint-ignore no-control-regex
const LINE_BREAKERS = /[\u0000-\u001f\u007f\u2028\u2029]/g;
/** The same, not global: a test without the global regex's `lastIndex` state. */
// deno-lint-ignore no-control-regex
const HAS_LINE_BREAKER = /[\u0000-\u001f\u007f\u2028\u2029]/;

/**
 * A file name may hold a newline or other control characters; written as they are they would
 * split one event into two log lines (or forge a second one). They are written escaped
 * (`\n`, `\r`, `\t`, else `\u00XX`), so every event is exactly one line. Backslashes stay as
 * they are: they are Windows path separators in the original line format.
 */
export function oneLine(path: string): string {
  if (!HAS_LINE_BREAKER.test(path)) return path;
  return path.replace(
    LINE_BREAKERS,
    (c) =>
      c === "\n"
        ? "\\n"
        : c === "\r"
        ? "\\r"
        : c === "\t"
        ? "\\t"
        : `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/** Where a message came from, recorded in JSON lines. */
export interface MessageOrigin {
  /** Stream name. */
  stream: string;
  /** Stream sequence. */
  seq: number;
  /** Subject the event was published on. */
  subject: string;
}

/**
 * One JSON object per line: when it was logged, where the message came from, the display path
 * (as in the text line) and the event exactly as received.
 */
export function jsonLine(ev: FileEvent, origin: MessageOrigin, received: Date): string {
  return JSON.stringify({
    logged_at: received.toISOString(),
    stream: origin.stream,
    seq: origin.seq,
    subject: origin.subject,
    operation: upperCase(ev.operation),
    path: displayPath(ev.root, ev.path),
    size_kb: Number(sizeKb(ev)),
    event: ev,
  }) + "\n";
}
