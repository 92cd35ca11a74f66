/**
 * The CLI: dispatches `jetport <command>`, prints help, maps errors to exit codes.
 * @module
 */
import { parseArgs, UsageError } from "./args.ts";
import { type Command, EXIT } from "./command.ts";
import { ConfigError } from "../config/errors.ts";
import { redact } from "../platform/redact.ts";
import { closest } from "../config/suggest.ts";
import { type JsonError, jsonProblem, printJson } from "./json.ts";
import { runCommand } from "./commands/run.ts";
import { validateCommand } from "./commands/validate.ts";
import { versionCommand } from "./commands/version.ts";
import { provisionCommand } from "./commands/provision.ts";
import { statusCommand } from "./commands/status.ts";
import { serviceCommand } from "./commands/service.ts";
import { replayCommand } from "./commands/replay.ts";
import { publishCommand } from "./commands/publish.ts";
import { dlqCommand } from "./commands/dlq.ts";

/** Every command, in the order `jetport --help` lists them. */
export const COMMANDS: Command[] = [
  runCommand,
  validateCommand,
  provisionCommand,
  statusCommand,
  dlqCommand,
  publishCommand,
  replayCommand,
  serviceCommand,
  versionCommand,
];

/** The top-level help text. */
function topHelp(commands: Command[] = COMMANDS): string {
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
  commands: Command[] = COMMANDS,
): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    console.log(topHelp(commands));
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  if (name === "--version" || name === "-V") {
    return versionCommand.run(parseArgs(rest, versionCommand.flags));
  }
  const command = commands.find((c) => c.name === name);
  if (!command) {
    const hint = closest(name, commands.map((c) => c.name));
    console.error(`jetport: unknown command "${name}"${hint ? ` (did you mean "${hint}"?)` : ""}`);
    console.error(`Run "jetport --help" for the list.`);
    return EXIT.usage;
  }
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
