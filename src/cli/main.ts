/**
 * The CLI: dispatches `jetport <command>`, prints help, maps errors to exit codes. A command's
 * module is imported only when it runs (or for the help), so `jetport publish` does not load the
 * daemon and `jetport run` does not load the other commands: start-up time is module loading.
 * @module
 */
import { parseArgs, UsageError } from "./args.ts";
import { type Command, EXIT } from "./command.ts";
import { ConfigError } from "../config/errors.ts";
import { redact } from "../platform/redact.ts";
import { closest } from "../config/suggest.ts";
import { type JsonError, jsonProblem, printJson } from "./json.ts";

/** A command as the dispatch knows it before importing it. */
export interface CommandEntry {
  /** The command word. */
  name: string;
  /** Imports the command (string-literal specifiers: `deno compile` bundles them). */
  load(): Promise<Command>;
}

/** Every command, in the order `jetport --help` lists them. */
export const COMMANDS: CommandEntry[] = [
  { name: "run", load: async () => (await import("./commands/run.ts")).runCommand },
  { name: "validate", load: async () => (await import("./commands/validate.ts")).validateCommand },
  {
    name: "provision",
    load: async () => (await import("./commands/provision.ts")).provisionCommand,
  },
  { name: "status", load: async () => (await import("./commands/status.ts")).statusCommand },
  { name: "dlq", load: async () => (await import("./commands/dlq.ts")).dlqCommand },
  { name: "publish", load: async () => (await import("./commands/publish.ts")).publishCommand },
  { name: "replay", load: async () => (await import("./commands/replay.ts")).replayCommand },
  { name: "service", load: async () => (await import("./commands/service.ts")).serviceCommand },
  { name: "version", load: async () => (await import("./commands/version.ts")).versionCommand },
];

/** The top-level help text. */
function topHelp(commands: Command[]): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return `jetport: file events, uploads, provisioning and dead letters around NATS JetStream

Usage: jetport <command> [flags]

Commands:
${commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join("\n")}

Run "jetport <command> --help" for a command's flags. -h is --help, -c is --config,
-V is --version.
Exit codes: 0 ok, 1 runtime failure, 2 bad usage or invalid config, 3 drift found.`;
}

/** Runs the CLI with `argv`; resolves with the process exit code. */
export async function main(
  argv: readonly string[],
  commands: CommandEntry[] = COMMANDS,
): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined || first === "--help" || first === "-h" || first === "help") {
    console.log(topHelp(await Promise.all(commands.map((c) => c.load()))));
    return first === undefined ? EXIT.usage : EXIT.ok;
  }
  const name = first === "--version" || first === "-V" ? "version" : first;
  const entry = commands.find((c) => c.name === name);
  if (!entry) {
    const hint = closest(name, commands.map((c) => c.name));
    console.error(`jetport: unknown command "${name}"${hint ? ` (did you mean "${hint}"?)` : ""}`);
    console.error(`Run "jetport --help" for the list.`);
    return EXIT.usage;
  }
  const command = await entry.load();
  // Known before parsing, so a usage error can be reported in JSON too.
  const json = rest.some((a) => a === "--json" || a === "--json=true") &&
    command.flags.boolean?.includes("json") === true;
  try {
    const args = parseArgs(rest, command.flags);
    if (args.flags.help) {
      console.log(command.help);
      return EXIT.ok;
    }
    return await command.run(args);
  } catch (err) {
    if (json) printJson(jsonError(err));
    if (err instanceof UsageError) {
      console.error(`jetport ${name}: ${err.message}\n\n${command.help}`);
      return EXIT.usage;
    }
    if (err instanceof ConfigError) {
      console.error(redact(err.message));
      return EXIT.usage;
    }
    console.error(redact(`jetport ${name}: ${errorMessage(err)}`));
    return EXIT.failure;
  }
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The `--json` document of a failure (the convention of json.ts). */
function jsonError(err: unknown): JsonError {
  if (err instanceof UsageError) return { error: { code: "USAGE", message: err.message } };
  if (err instanceof ConfigError) {
    return {
      error: {
        code: "CONFIG_INVALID",
        message: err.message,
        problems: err.problems.map(jsonProblem),
      },
    };
  }
  return { error: { code: "FAILURE", message: errorMessage(err) } };
}
