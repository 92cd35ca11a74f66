/**
 * The one `--json` convention every command follows, so a script reads any command the same way.
 * Written down here (and in docs/cli.md) because scripts depend on it: it is a stable interface.
 *
 * 1. With `--json`, stdout carries JSON only. A command that reports prints exactly one JSON
 *    document: an object (never a bare array, so keys can be added later), indented by two
 *    spaces. A command that prints messages prints one compact {@linkcode MessageLine} per line
 *    (JSON Lines). Progress, warnings and notes for people stay on stderr.
 * 2. Exit codes do not change with `--json`. When a command fails before it can report (bad
 *    usage, invalid config, NATS unreachable), stdout carries one {@linkcode JsonError} document
 *    and stderr the usual message.
 * 3. Keys are snake_case. Times are ISO-8601 UTC strings; durations are whole milliseconds in keys
 *    ending `_ms`; sizes are bytes in keys ending `_bytes`. In a report a value not known is
 *    `null`, never a missing key.
 * 4. A message is always the {@linkcode MessageLine} shape (replay lines, `dlq show --json`,
 *    `publish --file` input), so any of them can be published back as it is.
 * 5. Config problems are {@linkcode JsonProblem}s: `{file, line, column, path, message}`.
 * 6. Changes are additive: new keys may appear; existing keys keep their name, type and meaning.
 *
 * @module
 */
import type { ConfigProblem } from "../config/errors.ts";
import { redact } from "../platform/redact.ts";
import type { ParsedArgs } from "./args.ts";

export type { MessageLine } from "./message_line.ts";

/** The `--json` help line every reporting command shows. */
export const JSON_HELP =
  "  --json            one JSON document on stdout instead of text (docs/cli.md)";

/** One config problem in JSON: where (line and column 1-based, or null) and what. */
export interface JsonProblem {
  /** The config file. */
  file: string;
  /** 1-based line, or null when the problem has no place in the file. */
  line: number | null;
  /** 1-based column, or null. */
  column: number | null;
  /** Key path such as `roles.watcher.watches[1].path`. */
  path: string;
  /** What is wrong and, where possible, what to do. */
  message: string;
}

/** What stdout carries when a `--json` command fails before it can report. */
export interface JsonError {
  /** The failure. */
  error: {
    /** Stable for scripts: `USAGE`, `CONFIG_INVALID` or `FAILURE`. */
    code: "USAGE" | "CONFIG_INVALID" | "FAILURE";
    /** The same message stderr carries. */
    message: string;
    /** Every config problem, for `CONFIG_INVALID`. */
    problems?: JsonProblem[];
  };
}

/** Whether `--json` was given. */
export function wantsJson(args: ParsedArgs): boolean {
  return args.flags.json === true;
}

/** A config problem in its JSON shape. */
export function jsonProblem(p: ConfigProblem): JsonProblem {
  return {
    file: p.file,
    line: p.line ?? null,
    column: p.line ? p.column ?? 1 : null,
    path: p.path,
    message: p.message,
  };
}

/** Prints one report document on stdout (secrets redacted). */
export function printJson(report: object): void {
  console.log(redact(JSON.stringify(report, null, 2)));
}

/** Prints one message (or any value) as a compact JSON line on stdout (secrets redacted). */
export function printJsonLine(value: object): void {
  console.log(redact(JSON.stringify(value)));
}
