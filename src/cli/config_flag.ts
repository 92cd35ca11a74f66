/**
 * Loading the config named by `--config`, shared by every command that takes one.
 * @module
 */
import { loadConfig } from "../roles/checks.ts";
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
export function loadConfigFlag(args: ParsedArgs): Promise<Config> {
  return loadConfig(configPath(args));
}
