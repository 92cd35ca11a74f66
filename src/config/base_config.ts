/**
 * The config as a command that talks only to NATS reads it (`jetport publish`): the same file,
 * YAML, `${VAR}` interpolation, `*_file` secrets and positioned problems as the full load
 * (`src/roles/checks.ts`), and the daemon-wide sections validated the same way, but `roles:` is
 * taken as it is. Why: importing and building every role's zod schema was about a third of such a
 * command's start-up, and the roles' checks (a watch directory exists) are about the daemon's
 * host, not the one a message is published from. `validate` and `run` check `roles:`.
 * @module
 */
import { z } from "zod";
import { type ConfigSpec, loadConfig, type LoadOptions } from "./load.ts";
import { natsFileChecks } from "./nats_files.ts";
import { configSchemaWith } from "./schema.ts";

/** The whole file, `roles:` accepted as any value (still a known key, for "did you mean"). */
const baseConfigSchema = configSchemaWith(z.unknown().optional());

/** A config loaded by {@link loadBaseConfig}: the daemon-wide sections parsed, `roles` as is. */
export type BaseFileConfig = z.output<typeof baseConfigSchema>;

/** The daemon-wide sections' schema and the checks that need only them. */
export const BASE_CONFIG_SPEC: ConfigSpec<BaseFileConfig> = {
  schema: baseConfigSchema,
  checks: [natsFileChecks],
};

/**
 * Reads the config file at `file` and validates its daemon-wide sections; throws `ConfigError`
 * listing every problem.
 */
export function loadBaseConfig(file: string, options?: LoadOptions): Promise<BaseFileConfig> {
  return loadConfig(BASE_CONFIG_SPEC, file, options);
}
