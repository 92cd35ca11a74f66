/**
 * Every role's whole-config checks, keyed by role, and the config spec the loader runs: the
 * schema from `schemas.ts` plus these checks. `validate`, `run` and reload load configs through
 * {@link loadConfig} / {@link parseConfig} here.
 * @module
 */
import type { ConfigCheck } from "../config/checks.ts";
import { natsFileChecks } from "../config/nats_files.ts";
import {
  type ConfigSpec,
  loadConfig as loadWith,
  type LoadOptions,
  parseConfig as parseWith,
} from "../config/load.ts";
import { type Config, configSchema, type RoleName } from "./schemas.ts";
import { provisionerChecks } from "./stream_provisioner/checks.ts";
import { watcherChecks } from "./watcher/checks.ts";

/** Role name → its checks (a role without any has an empty list). */
export const ROLE_CHECKS: Record<RoleName, readonly ConfigCheck<Config>[]> = {
  stream_provisioner: [provisionerChecks],
  dlq_redriver: [],
  monitor: [],
  upload_processor: [],
  watcher: [watcherChecks],
};

/** The config of this build: its schema, the daemon-wide checks and every role's checks. */
export const CONFIG_SPEC: ConfigSpec<Config> = {
  schema: configSchema,
  checks: [natsFileChecks, ...Object.values(ROLE_CHECKS).flat()],
};

/** Reads and validates the config file at `file`; throws `ConfigError` listing every problem. */
export function loadConfig(file: string, options?: LoadOptions): Promise<Config> {
  return loadWith(CONFIG_SPEC, file, options);
}

/** Validates config text; `file` names it in problems. */
export function parseConfig(text: string, file: string, options?: LoadOptions): Config {
  return parseWith(CONFIG_SPEC, text, file, options);
}
