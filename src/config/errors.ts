/**
 * Typed configuration errors carrying file, line, column and key path.
 * @module
 */

/** One problem found in a config file. */
export interface ConfigProblem {
  /** The config file. */
  file: string;
  /** 1-based line, when the problem has a place in the file. */
  line?: number;
  /** 1-based column. */
  column?: number;
  /** Key path such as `roles.watcher.watches[1].path`. */
  path: string;
  /** What is wrong and, where possible, what to do. */
  message: string;
}

/** Formats a key path the way users read it: `roles.watcher.watches[1].path`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`;
    else out += out ? `.${String(key)}` : String(key);
  }
  return out || "(top level)";
}

/** Formats one problem as `file:line:col: path: message`. */
function formatProblem(p: ConfigProblem): string {
  const where = p.line ? `${p.file}:${p.line}:${p.column ?? 1}` : p.file;
  return `${where}: ${p.path}: ${p.message}`;
}

/** The config could not be used; `problems` lists every problem found, not just the first. */
export class ConfigError extends Error {
  /** Error code, stable for scripts. */
  readonly code = "CONFIG_INVALID";
  /** Every problem found. */
  readonly problems: ConfigProblem[];

  /** Creates the error from the problems found. */
  constructor(problems: ConfigProblem[]) {
    const n = problems.length;
    super(
      `${n} problem${n === 1 ? "" : "s"} in config:\n` +
        problems.map((p) => `  ${formatProblem(p)}`).join("\n"),
    );
    this.name = "ConfigError";
    this.problems = problems;
  }
}
