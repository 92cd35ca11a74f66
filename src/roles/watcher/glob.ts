/**
 * A small glob matcher for include/exclude patterns (`@std/path`'s globToRegExp is out of reach).
 * Supports `**` (any number of path segments), `*` and `?` (within a segment), `[abc]` / `[!a-z]`
 * classes and `{a,b}` alternatives. Paths are `/`-separated and relative to the watch root.
 * A pattern without a `/` matches the last segment (basename) at any depth, like `.gitignore`.
 * @module
 */

const SPECIAL = /[.+^$()|\\]/;

function translate(glob: string): string {
  let re = "";
  let inGroup = 0;
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === "*") {
      if (glob[i + 1] === "*") {
        const atStart = i === 0 || glob[i - 1] === "/";
        const atEnd = i + 2 === glob.length || glob[i + 2] === "/";
        if (atStart && atEnd) {
          // `**/` matches zero or more whole segments; a trailing `**` matches the rest.
          if (i + 2 === glob.length) re += ".*";
          else re += "(?:[^/]*/)*";
          i += 2;
          continue;
        }
      }
      re += "[^/]*";
    } else if (c === "?") re += "[^/]";
    else if (c === "[") {
      const end = glob.indexOf("]", i + 2);
      if (end === -1) re += "\\[";
      else {
        let body = glob.slice(i + 1, end).replace(/\\/g, "\\\\");
        if (body.startsWith("!")) body = "^" + body.slice(1);
        re += `[${body}]`;
        i = end;
      }
    } else if (c === "{") {
      inGroup++;
      re += "(?:";
    } else if (c === "}" && inGroup > 0) {
      inGroup--;
      re += ")";
    } else if (c === "," && inGroup > 0) re += "|";
    else if (SPECIAL.test(c) || c === "}" || c === "]") re += "\\" + c;
    else re += c;
  }
  return re;
}

/** Compiles `glob` into a RegExp that tests a whole relative path. */
export function globToRegExp(glob: string): RegExp {
  const pattern = glob.replace(/^\.\//, "");
  if (!pattern.includes("/")) return new RegExp(`(?:^|/)${translate(pattern)}$`);
  return new RegExp(`^${translate(pattern.replace(/^\//, ""))}$`);
}

/** A predicate that is true when a path matches any of `globs`. */
export function matchAny(globs: readonly string[]): (path: string) => boolean {
  const res = globs.map(globToRegExp);
  return (path) => res.some((re) => re.test(path));
}
