/**
 * Path handling in one place. Two kinds of paths meet in jetport: OS paths (what `Deno.watchFs`
 * reports, what `Deno.readDir` and `Deno.lstat` take; on Windows with either separator, a drive
 * letter or a UNC `\\server\share` root, compared without regard to case) and keys: the
 * watch-relative, `/`-separated paths used in snapshots, subjects, globs and events, the same on
 * every OS. Code elsewhere never splits or joins an OS path on `/` by hand (a test checks):
 * `C:\data\in\a.txt` would never match a root compared with `startsWith(root + "/")`.
 *
 * {@link osPaths} builds the functions for either platform, so the Windows behaviour is tested
 * on Linux with `node:path`'s `win32` implementation; {@link paths} is the one of this OS.
 * @module
 */
import nodePath from "node:path";

/** The OS-path functions of one platform. */
export interface OsPaths {
  /** `"windows"` or `"posix"`. */
  readonly platform: "windows" | "posix";
  /** The preferred separator: `\` on Windows, `/` elsewhere. */
  readonly sep: string;
  /** Joins OS path parts with the separator (normalized: `..`, doubled separators). */
  join(...parts: string[]): string;
  /**
   * The key of OS path `path` under `root`: `""` for the root itself, undefined when `path` is
   * not inside `root`. On Windows either separator, any case of the root's letters and a `\\?\`
   * prefix are accepted; the key keeps the case of `path`.
   */
  keyOf(root: string, path: string): string | undefined;
  /** The OS path of `key` (`""`: the root) under `root`. */
  fromKey(root: string, key: string): string;
  /** True when `a` and `b` are the same path (case-insensitively on Windows). */
  same(a: string, b: string): boolean;
  /** A root as users wrote it, for display: without leading `./` and trailing separators. */
  display(path: string): string;
}

/** Strips the `\\?\` (and `\\?\UNC\`) prefix of Windows verbatim paths (`realPath` may add it). */
function stripVerbatim(path: string): string {
  if (/^[\\/]{2}\?[\\/]UNC[\\/]/i.test(path)) return `\\\\${path.slice(8)}`;
  if (/^[\\/]{2}\?[\\/]/.test(path)) return path.slice(4);
  return path;
}

function windowsPaths(): OsPaths {
  const w = nodePath.win32;
  return {
    platform: "windows",
    sep: "\\",
    join: (...parts) => w.join(...parts),
    keyOf(root, path) {
      const rel = w.relative(stripVerbatim(root), stripVerbatim(path));
      if (rel === "") return "";
      // Another drive or share: relative() returns the absolute path.
      if (w.isAbsolute(rel) || rel === ".." || rel.startsWith("..\\")) return undefined;
      return rel.replaceAll("\\", "/");
    },
    fromKey: (root, key) => key === "" ? root : w.join(root, ...key.split("/")),
    same: (a, b) =>
      w.resolve(stripVerbatim(a)).toLowerCase() === w.resolve(stripVerbatim(b)).toLowerCase(),
    display: (path) => path.replace(/^(\.[\\/])+/, "").replace(/(?<=.)[\\/]+$/, "") || ".",
  };
}

function posixPaths(): OsPaths {
  const p = nodePath.posix;
  // The root with exactly one trailing separator ("/" stays "/").
  const prefix = (root: string) => root.endsWith("/") ? root : `${root}/`;
  return {
    platform: "posix",
    sep: "/",
    join: (...parts) => p.join(...parts),
    keyOf(root, path) {
      if (path === root) return "";
      // The fast path: events and listings come with the root as given.
      const pre = prefix(root);
      if (path.startsWith(pre)) return path.length > pre.length ? path.slice(pre.length) : "";
      const rel = p.relative(root, path);
      if (rel === "") return "";
      return rel === ".." || rel.startsWith("../") ? undefined : rel;
    },
    fromKey: (root, key) => key === "" ? root : prefix(root) + key,
    same: (a, b) => p.resolve(a) === p.resolve(b),
    display: (path) => path.replace(/^(\.\/)+/, "").replace(/(?<=.)\/+$/, "") || ".",
  };
}

/** The OS-path functions of `platform`. */
export function osPaths(platform: "windows" | "posix"): OsPaths {
  return platform === "windows" ? windowsPaths() : posixPaths();
}

/** The OS-path functions of the OS jetport runs on. */
export const paths: OsPaths = osPaths(Deno.build.os === "windows" ? "windows" : "posix");

/** Key of entry `name` in directory key `dir` (`""`: the root). */
export function keyJoin(dir: string, name: string): string {
  return dir === "" ? name : `${dir}/${name}`;
}

/** Key of the directory holding `key` (`""`: the root). */
export function keyParent(key: string): string {
  const i = key.lastIndexOf("/");
  return i === -1 ? "" : key.slice(0, i);
}

/** The last segment of `key` (the file or directory name). */
export function keyBase(key: string): string {
  return key.slice(key.lastIndexOf("/") + 1);
}

/** The directories above `key`, outermost first: `a`, `a/b` for `a/b/c`. */
export function keyAncestors(key: string): string[] {
  const out: string[] = [];
  for (let i = key.indexOf("/"); i !== -1; i = key.indexOf("/", i + 1)) out.push(key.slice(0, i));
  return out;
}
