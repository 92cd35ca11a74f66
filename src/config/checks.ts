/**
 * The shape of a whole-config check. Checks go beyond one section's schema (they see the whole
 * config: overlapping stream subjects, missing watch directories, ...); each role exports its
 * own, the role registry hands them to the loader, and the loader adds file, line and column.
 * The types live here so that `src/config` needs nothing from `src/roles`.
 * @module
 */

/** A problem found by a check: where (key path) and what. */
export interface CheckProblem {
  /** Key path, e.g. `["roles", "watcher", "watches", 1, "path"]`. */
  path: PropertyKey[];
  /** What is wrong and what to do. */
  message: string;
}

/** A whole-config check over a parsed config of type `C`. */
export type ConfigCheck<C> = (config: C) => CheckProblem[];
