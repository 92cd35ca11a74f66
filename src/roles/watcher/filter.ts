/**
 * Which paths of a watch are announced: include/exclude globs, and the temp files editors,
 * downloaders and office suites write before the real file (ignored unless
 * `ignore_temp_files: false`). jetport's own cookie files are always ignored.
 * @module
 */
import { matchAny } from "./glob.ts";
import { keyBase } from "../../platform/paths.ts";

/** Basename patterns of temporary files. */
export const TEMP_FILE_PATTERNS: readonly string[] = [
  "*.tmp",
  "*.temp",
  "*.swp",
  "*.swo",
  "*.swx",
  "*~",
  ".#*",
  "#*#",
  "*.part",
  "*.partial",
  "*.crdownload",
  "*.download",
  ".~lock.*#",
  "~$*",
  ".goutputstream-*",
  "*.kate-swp",
  "4913", // vim checks whether it may write a directory with this file
];

/** The prefix of the cookie files the watcher writes to detect a dead watch. */
export const COOKIE_PREFIX = ".jetport-cookie-";

/** What the filter needs from a watch's config. */
export interface FilterOptions {
  /** Globs a file must match (any). */
  include: readonly string[];
  /** Globs that exclude a file, or a directory with everything below it. */
  exclude: readonly string[];
  /** Ignore {@link TEMP_FILE_PATTERNS}. */
  ignore_temp_files: boolean;
}

/** Decides which files and directories a watch considers. */
export interface PathFilter {
  /** True when the file at relative path `path` is announced. */
  file(path: string): boolean;
  /** True when the directory at `path` is descended into (not excluded). */
  dir(path: string): boolean;
}

/** Builds the filter of one watch. */
export function createFilter(options: FilterOptions): PathFilter {
  const included = matchAny(options.include);
  const excluded = matchAny(options.exclude);
  const temp = matchAny(options.ignore_temp_files ? TEMP_FILE_PATTERNS : []);
  return {
    file(path) {
      if (keyBase(path).startsWith(COOKIE_PREFIX)) return false;
      return included(path) && !excluded(path) && !temp(path);
    },
    dir: (path) => !excluded(path),
  };
}
