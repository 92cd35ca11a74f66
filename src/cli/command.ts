/**
 * The shape of a CLI command.
 * @module
 */
import type { FlagSpec, ParsedArgs } from "./args.ts";

/**
 * Exit codes (docs/design.md "Command line and exit codes"): 0 ok, 1 runtime failure, 2 usage or
 * config, 3 drift; a second stop signal exits 128 + its number (platform/signals.ts).
 */
export const EXIT = { ok: 0, failure: 1, usage: 2, drift: 3 } as const;

/** One `jetport <name>` command. */
export interface Command {
  /** The command word. */
  name: string;
  /** One line for the command list. */
  summary: string;
  /** Full help text (usage, flags, examples). */
  help: string;
  /** Flags it takes. */
  flags: FlagSpec;
  /** Runs it; resolves with the exit code. */
  run(args: ParsedArgs): Promise<number>;
}
