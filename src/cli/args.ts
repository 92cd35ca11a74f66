/**
 * A small, strict command-line parser: `--flag value`, `--flag=value`, booleans, the short flags
 * `-h` (help) and `-c` (config), positionals. It never guesses: an unknown flag or an argument the
 * command does not take is a usage error (exit 2) that names it, with a "did you mean".
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

/** Which flags and positionals a command takes. */
export interface FlagSpec {
  /** Flags that take a value. */
  string?: readonly string[];
  /** Flags that take a value and may repeat (collected into a list). */
  multiple?: readonly string[];
  /** Flags without a value. */
  boolean?: readonly string[];
  /**
   * The one positional the command takes (a subcommand such as `plan`), if any, and its
   * choices. Without it, any positional is a usage error.
   */
  positional?: { name: string; choices: readonly string[] };
}

/** Short flags and the long flags they stand for (when the command takes that long flag). */
const SHORT: Readonly<Record<string, string>> = { h: "help", c: "config" };

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
    if (!arg.startsWith("-") || arg === "-") {
      out._.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const given = arg.slice(0, eq < 0 ? undefined : eq);
    const name = flagName(given, known);
    const inline = eq < 0 ? undefined : arg.slice(eq + 1);
    if (booleans.has(name)) {
      if (inline !== undefined && !["true", "false"].includes(inline)) {
        throw new UsageError(`${given} takes no value`);
      }
      out.flags[name] = inline !== "false";
    } else {
      const value = inline ?? args[++i];
      if (value === undefined) throw new UsageError(`${given} needs a value`);
      if (multiple.has(name)) {
        const list = (out.flags[name] as string[] | undefined) ?? [];
        out.flags[name] = [...list, value];
      } else {
        out.flags[name] = value;
      }
    }
  }
  checkPositionals(out._, spec, known);
  return out;
}

/** The long name of flag `given` (`--config`, `-c`), or a usage error naming it. */
function flagName(given: string, known: string[]): string {
  const long = given.startsWith("--") ? given.slice(2) : SHORT[given.slice(1)];
  if (long !== undefined && known.includes(long)) return long;
  // `-config` is a common slip for `--config`; everything else is compared by its letters.
  const hint = closest(given.replace(/^-+/, ""), known);
  throw new UsageError(`unknown flag ${given}` + (hint ? ` (did you mean --${hint}?)` : ""));
}

/** Throws a usage error for a positional the command does not take. */
function checkPositionals(positionals: string[], spec: FlagSpec, known: string[]): void {
  const p = spec.positional;
  const [first, ...rest] = positionals;
  if (first !== undefined && p) {
    if (!p.choices.includes(first)) {
      const hint = closest(first, p.choices);
      throw new UsageError(
        `unknown ${p.name} "${first}"` + (hint ? ` (did you mean "${hint}"?)` : "") +
          `; expected one of ${p.choices.join(", ")}`,
      );
    }
  }
  const stray = p ? rest[0] : first;
  if (stray === undefined) return;
  // A value without its flag (`validate prod.yaml`) is the usual cause: say which flag takes it.
  const hint = /\.ya?ml$/i.test(stray) && known.includes("config")
    ? ` (did you mean --config ${stray}?)`
    : "";
  throw new UsageError(`unexpected argument "${stray}"${hint}`);
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
