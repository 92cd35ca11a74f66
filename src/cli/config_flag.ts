/**
 * Loading the config named by `--config`, shared by every command that takes one.
 * @module
 */
import { type BaseFileConfig, loadBaseConfig } from "../config/base_config.ts";
import type { Config } from "../roles/schemas.ts";
import { type ParsedArgs, stringFlag } from "./args.ts";

/** The `--config` help line every command shows. */
export const CONFIG_HELP =
  "  -c, --config FILE the YAML config (default: $JETPORT_CONFIG, else ./jetport.yaml)";

/** The config file named by `--config`, `$JETPORT_CONFIG`, or `./jetport.yaml`. */
export function configPath(args: ParsedArgs): string {
  return stringFlag(args, "config") ?? Deno.env.get("JETPORT_CONFIG") ?? "jetport.yaml";
}

/** Loads the config named by `--config`; throws ConfigError with every problem. */
export async function loadConfigFlag(args: ParsedArgs): Promise<Config> {
  // Imported when called: a command that reads only `nats:` does not build the roles' schemas.
  const { loadConfig } = await import("../roles/checks.ts");
  return loadConfig(configPath(args));
}

/**
 * Loads the config named by `--config` for a command that needs only its daemon-wide sections
 * (`roles:` is not checked; see `src/config/base_config.ts`); throws ConfigError with every
 * problem.
 */
export function loadBaseConfigFlag(args: ParsedArgs): Promise<BaseFileConfig> {
  return loadBaseConfig(configPath(args));
}
