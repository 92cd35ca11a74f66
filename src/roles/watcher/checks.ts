/**
 * Whole-config checks of the watcher: every watch path exists and is a directory (relative paths
 * are relative to the working directory, as at run time).
 * @module
 */
import type { CheckProblem, ConfigCheck } from "../../config/checks.ts";
import type { Config } from "../schemas.ts";

/** The watcher checks (none when the role is off). */
export const watcherChecks: ConfigCheck<Config> = (config) => {
  const cfg = config.roles.watcher;
  if (!cfg || !cfg.enabled) return [];
  const problems: CheckProblem[] = [];
  cfg.watches.forEach((watch, i) => {
    const path = ["roles", "watcher", "watches", i, "path"];
    try {
      if (!Deno.statSync(watch.path).isDirectory) {
        problems.push({ path, message: `not a directory: ${watch.path}` });
      }
    } catch (err) {
      problems.push({
        path,
        message: err instanceof Deno.errors.NotFound
          ? `directory does not exist: ${watch.path} (create it, or fix the path)`
          : `cannot read ${watch.path}: ${(err as Error).message}`,
      });
    }
  });
  return problems;
};
