/**
 * Include/exclude globs, matched with `picomatch` (the well-kept standard: `**`, `*`, `?`,
 * classes, braces, extglobs, `\` escapes) against watch keys (`/`-separated, relative to the root,
 * the same on every OS, so Windows-style matching is off). Dotfiles match like any other name. A
 * pattern without a `/` matches the last segment at any depth, like `.gitignore`. Patterns are
 * compiled strictly: an unbalanced bracket, brace or parenthesis, or one that makes no valid
 * regular expression, is an error reported when the config is loaded, not when the watch starts.
 * @module
 */
// @ts-types="@types/picomatch"
import picomatch from "picomatch";
import { keyBase } from "../../platform/paths.ts";

// posix: `[!a]` negates a class, as in shells (without it picomatch reads `!` literally there).
const OPTIONS = {
  dot: true,
  windows: false,
  posix: true,
  strictBrackets: true,
  debug: true,
} as const;

/** A pattern picomatch cannot compile. */
export class GlobError extends Error {
  /** Creates the error. */
  constructor(glob: string, reason: string) {
    super(`bad glob ${JSON.stringify(glob)}: ${reason}`);
    this.name = "GlobError";
  }
}

/** A pattern as picomatch compiled it. */
interface Compiled {
  /** The pattern (without a leading `./` or `/`). */
  pattern: string;
  /** picomatch's regex of it. */
  regex: RegExp;
  /** True for a pattern without a `/`: it is matched against the last segment. */
  base: boolean;
}

function compile(glob: string): Compiled {
  const pattern = glob.replace(/^\.\//, "").replace(/^\//, "");
  if (pattern === "") throw new GlobError(glob, "empty pattern");
  try {
    // The regex picomatch's own matcher tests, tested here directly: its matcher builds a result
    // object per call, which cost more than the rest of a file's filtering in a 100k-file scan.
    // Same semantics: the pattern itself matches literally, then the regex decides (against the
    // last segment for a pattern without a `/`).
    return { pattern, regex: picomatch.makeRe(pattern, OPTIONS), base: !pattern.includes("/") };
  } catch (err) {
    throw new GlobError(glob, (err as Error).message);
  }
}

/** Compiles `glob` into a predicate on keys; throws a {@link GlobError} when it is malformed. */
export function compileGlob(glob: string): (key: string) => boolean {
  return matchAny([glob]);
}

/** Why `glob` cannot be compiled, or undefined when it can. */
export function globProblem(glob: string): string | undefined {
  try {
    compileGlob(glob);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/**
 * A predicate that is true when a key matches any of `globs`; throws a {@link GlobError} when one
 * is malformed. The patterns of each kind (last segment, whole key) are tested as one regex: the 17
 * temp-file patterns one by one cost more than the rest of a file's filtering in a 100k-file scan.
 */
export function matchAny(globs: readonly string[]): (key: string) => boolean {
  const compiled = globs.map(compile);
  const onBase = anyOf(compiled.filter((c) => c.base));
  const onKey = anyOf(compiled.filter((c) => !c.base));
  return (key) => key !== "" && (onKey(key, key) || onBase(key, keyBase(key)));
}

/** Whether `key` is one of the patterns, or `subject` (the key or its last segment) matches one. */
function anyOf(group: Compiled[]): (key: string, subject: string) => boolean {
  if (group.length === 0) return () => false;
  const literal = new Set(group.map((c) => c.pattern));
  const regex = new RegExp(group.map((c) => c.regex.source).join("|"), group[0].regex.flags);
  return (key, subject) => literal.has(key) || regex.test(subject);
}
