/**
 * A small, strict command-line parser: `--flag value`, `--flag=value`, booleans, positionals.
 * Unknown flags are usage errors (exit 2).
 * @module
 */
import { closest } from "../config/suggest.ts";

/** Bad command-line usage; the CLI prints it with the command's help and exits 2. */
export class UsageError extends Error {
  /** Error code, stable for scripts. */
  readonly code = "USAGE";
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** Which flags a command takes. */
export interface FlagSpec {
  /** Flags that take a value. */
  string?: readonly string[];
  /** Flags that take a value and may repeat (collected into a list). */
  multiple?: readonly string[];
  /** Flags without a value. */
  boolean?: readonly string[];
}

/** Parsed arguments. */
export interface ParsedArgs {
  /** Positional arguments. */
  _: string[];
  /** Flag values: string, string[] or boolean. */
  flags: Record<string, string | string[] | boolean | undefined>;
}

/** Parses `args` against `spec`; `--help`/`-h` is always accepted. */
export function parseArgs(args: readonly string[], spec: FlagSpec): ParsedArgs {
  const strings = new Set(spec.string ?? []);
  const multiple = new Set(spec.multiple ?? []);
  const booleans = new Set([...(spec.boolean ?? []), "help"]);
  const known = [...strings, ...multiple, ...booleans];
  const out: ParsedArgs = { _: [], flags: {} };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--") {
      out._.push(...args.slice(i + 1));
      break;
    }
    if (arg === "-h") {
      out.flags.help = true;
      continue;
    }
    if (!arg.startsWith("--") || arg === "--") {
      out._.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    const inline = eq < 0 ? undefined : arg.slice(eq + 1);
    if (booleans.has(name)) {
      if (inline !== undefined && !["true", "false"].includes(inline)) {
        throw new UsageError(`--${name} takes no value`);
      }
      out.flags[name] = inline !== "false";
    } else if (strings.has(name) || multiple.has(name)) {
      const value = inline ?? args[++i];
      if (value === undefined) throw new UsageError(`--${name} needs a value`);
      if (multiple.has(name)) {
        const list = (out.flags[name] as string[] | undefined) ?? [];
        out.flags[name] = [...list, value];
      } else {
        out.flags[name] = value;
      }
    } else {
      const hint = closest(name, known);
      throw new UsageError(`unknown flag --${name}` + (hint ? ` (did you mean --${hint}?)` : ""));
    }
  }
  return out;
}

/** The string value of `flag`, or throws a usage error when it is required and missing. */
export function stringFlag(args: ParsedArgs, flag: string, required: true): string;
/** The string value of `flag`, if given. */
export function stringFlag(args: ParsedArgs, flag: string, required?: false): string | undefined;
export function stringFlag(args: ParsedArgs, flag: string, required = false): string | undefined {
  const v = args.flags[flag];
  if (typeof v === "string") return v;
  if (required) throw new UsageError(`--${flag} is required`);
  return undefined;
}

/** A positive integer flag value, if given. */
export function intFlag(args: ParsedArgs, flag: string): number | undefined {
  const v = stringFlag(args, flag);
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw new UsageError(`--${flag} must be a whole number, got "${v}"`);
  return Number(v);
}
