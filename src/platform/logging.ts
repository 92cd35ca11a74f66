/**
 * Logging through `@logtape/logtape`: text or JSON lines on stderr and, optionally, a rotated
 * file. Every line passes through {@link redact} so secrets never reach a log.
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

function renderMessage(record: LogRecord): string {
  return record.message.map((part) => typeof part === "string" ? part : inspect(part)).join("");
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

const LEVEL_NAMES: Record<string, string> = {
  trace: "TRACE",
  debug: "DEBUG",
  info: "INFO ",
  warning: "WARN ",
  error: "ERROR",
  fatal: "FATAL",
};

/** Formats a record as one text line: time, level, category, message, extra properties. */
export function textLine(record: LogRecord): string {
  const category = record.category.slice(1).join(".") || ROOT;
  // Properties already shown in the message ({name} placeholders) are not repeated.
  const template = typeof record.rawMessage === "string" ? record.rawMessage : "";
  const props = Object.entries(record.properties)
    .filter(([k, v]) => v !== undefined && !template.includes(`{${k}}`))
    .map(([k, v]) => `${k}=${typeof v === "string" && !/\s/.test(v) ? v : inspect(v)}`)
    .join(" ");
  const line = `${new Date(record.timestamp).toISOString()} ${LEVEL_NAMES[record.level]} ` +
    `[${category}] ${renderMessage(record)}${props ? " " + props : ""}`;
  return redact(line) + "\n";
}

/** Formats a record as one JSON line. */
export function jsonLine(record: LogRecord): string {
  const props: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(record.properties)) {
    props[k] = v instanceof Error ? v.message : v;
  }
  return redact(JSON.stringify({
    time: new Date(record.timestamp).toISOString(),
    level: record.level,
    category: record.category.slice(1).join(".") || ROOT,
    message: renderMessage(record),
    ...props,
  })) + "\n";
}

const encoder = new TextEncoder();

/** Sets up logging for the process; call once at start (again to change settings). */
export async function setupLogging(options: LogOptions): Promise<void> {
  const formatter = options.format === "json" ? jsonLine : textLine;
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
