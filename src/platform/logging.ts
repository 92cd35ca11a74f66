/**
 * Logging through `@logtape/logtape`: text or JSON lines on stderr and, optionally, a rotated
 * file. Every line passes through {@link redact} so secrets never reach a log. One record is
 * always one line (newlines escaped), so log shippers never split an entry; the extra
 * properties of a text line are valid logfmt, and a JSON line's own keys cannot be overwritten.
 * @module
 */
import { configure, getLogger, type Logger, type LogRecord, reset } from "@logtape/logtape";
import { getRotatingFileSink } from "@logtape/file";
import { redact } from "./redact.ts";

/** Logging settings (the `log:` config section). */
export interface LogOptions {
  /** Lowest level written. */
  level: "debug" | "info" | "warning" | "error";
  /** `text` for people, `json` for log shippers. */
  format: "text" | "json";
  /** Optional file, rotated by size. */
  file?: string | null;
  /** Rotation of `file` (its defaults live in the `log:` schema, src/config/common.ts). */
  rotate: { max_size: number; keep: number };
}

/** The root logger category; roles log under `["jetport", <role>]`. */
export const ROOT = "jetport";

/** A logger for a part of jetport, e.g. `logger("watcher")`. */
export function logger(...category: string[]): Logger {
  return getLogger([ROOT, ...category]);
}

/** How a record becomes a line. */
export interface FormatOptions {
  /** Add each Error property's stack as `<key>.stack` (on at `level: debug`). */
  stacks?: boolean;
}

/** The message with its placeholders filled in, on one line (newlines escaped). */
function renderMessage(record: LogRecord): string {
  return record.message.map((part) => typeof part === "string" ? part : inspect(part)).join("")
    .replace(/\r?\n/g, "\\n");
}

function inspect(value: unknown): string {
  if (value instanceof Error) return value.message;
  if (typeof value === "string") return value;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/**
 * The properties of a record to show: undefined values dropped, each Error as its message and,
 * with `stacks`, its stack under `<key>.stack`.
 */
function properties(record: LogRecord, options: FormatOptions): [string, unknown][] {
  const out: [string, unknown][] = [];
  for (const [k, v] of Object.entries(record.properties)) {
    if (v === undefined) continue;
    if (!(v instanceof Error)) {
      out.push([k, v]);
      continue;
    }
    out.push([k, v.message]);
    if (options.stacks && v.stack) out.push([`${k}.stack`, v.stack]);
  }
  return out;
}

/**
 * A logfmt value: bare when it is a non-empty run without spaces, quotes, `=` or control
 * characters; otherwise a double-quoted string with `"`, `\` and control characters escaped.
 */
export function logfmtValue(value: unknown): string {
  const text = typeof value === "string" ? value : inspect(value);
  // deno-lint-ignore no-control-regex
  return /^[^\s"=\\\x00-\x1f]+$/.test(text) ? text : JSON.stringify(text);
}

/** A logfmt key: characters that would end or break the key become `_`. */
function logfmtKey(key: string): string {
  // deno-lint-ignore no-control-regex
  return key.replace(/[\s"=\x00-\x1f]/g, "_") || "_";
}

const LEVEL_NAMES: Record<string, string> = {
  trace: "TRACE",
  debug: "DEBUG",
  info: "INFO ",
  warning: "WARN ",
  error: "ERROR",
  fatal: "FATAL",
};

/**
 * Formats a record as one text line: time, level, category, message, then the extra properties
 * as logfmt (`key=value`, values quoted when they hold spaces, quotes or `=`).
 */
export function textLine(record: LogRecord, options: FormatOptions = {}): string {
  const category = record.category.slice(1).join(".") || ROOT;
  // Properties already shown in the message ({name} placeholders) are not repeated.
  const template = typeof record.rawMessage === "string" ? record.rawMessage : "";
  const props = properties(record, options)
    .filter(([k]) => !template.includes(`{${k}}`))
    .map(([k, v]) => `${logfmtKey(k)}=${logfmtValue(v)}`)
    .join(" ");
  const line = `${new Date(record.timestamp).toISOString()} ${LEVEL_NAMES[record.level]} ` +
    `[${category}] ${renderMessage(record)}${props ? " " + props : ""}`;
  return redact(line) + "\n";
}

/** Keys of a JSON line that properties cannot overwrite. */
const RESERVED = new Set(["time", "level", "category", "message"]);

/**
 * Formats a record as one JSON line. A property named like a reserved key (`time`, `level`,
 * `category`, `message`) is written as `prop_<name>`, so it never replaces the real one.
 */
export function jsonLine(record: LogRecord, options: FormatOptions = {}): string {
  const line: Record<string, unknown> = {
    time: new Date(record.timestamp).toISOString(),
    level: record.level,
    category: record.category.slice(1).join(".") || ROOT,
    message: renderMessage(record),
  };
  for (const [k, v] of properties(record, options)) {
    line[RESERVED.has(k) ? `prop_${k}` : k] = v;
  }
  return redact(JSON.stringify(line)) + "\n";
}

const encoder = new TextEncoder();

/** Sets up logging for the process; call once at start (again to change settings). */
export async function setupLogging(options: LogOptions): Promise<void> {
  const format = { stacks: options.level === "debug" };
  const formatter = (record: LogRecord) =>
    options.format === "json" ? jsonLine(record, format) : textLine(record, format);
  const sinks: Record<string, (r: LogRecord) => void> = {
    stderr: (record) => {
      Deno.stderr.writeSync(encoder.encode(formatter(record)));
    },
  };
  if (options.file) {
    sinks.file = getRotatingFileSink(options.file, {
      formatter,
      maxSize: options.rotate.max_size,
      maxFiles: options.rotate.keep,
    });
  }
  await configure({
    reset: true,
    sinks,
    loggers: [
      { category: [ROOT], lowestLevel: options.level, sinks: Object.keys(sinks) },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["stderr"] },
    ],
  });
}

/** Flushes and closes log sinks (at exit). */
export async function closeLogging(): Promise<void> {
  await reset();
}
