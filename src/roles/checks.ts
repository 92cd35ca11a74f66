/**
 * Checks that go beyond a section's schema (they see the whole config): overlapping stream
 * subjects, missing watch directories, roles this build lacks, ... Each returns problems with
 * key paths; the loader adds file, line and column.
 * @module
 */
import type { Config } from "../config/schema.ts";
import { enabledRoles } from "../config/enabled_roles.ts";
import { ROLE_FACTORIES } from "./registry.ts";
import { provisionerChecks } from "./stream_provisioner/checks.ts";
import { watcherChecks } from "./watcher/checks.ts";

/** A problem found by a check: where (key path) and what. */
export interface CheckProblem {
  /** Key path, e.g. `["roles", "watcher", "watches", 1, "path"]`. */
  path: PropertyKey[];
  /** What is wrong and what to do. */
  message: string;
}

/** A whole-config check. */
export type ConfigCheck = (config: Config) => CheckProblem[];

/** Every enabled role must be implemented by this build. */
export const implementedRoles: ConfigCheck = (config) =>
  enabledRoles(config).filter((name) => !ROLE_FACTORIES[name]).map((name) => ({
    path: ["roles", name],
    message: `role ${name} is not available in this version of jetport yet; ` +
      "remove the section or set enabled: false",
  }));

/** All checks, run by `validate` and before `run`. */
export const CONFIG_CHECKS: ConfigCheck[] = [implementedRoles, provisionerChecks, watcherChecks];
