import { assertEquals, assertMatch, assertThrows } from "../../helpers/assert.ts";
import { compileGlob, globProblem } from "../../../src/roles/watcher/glob.ts";
import { parseConfig } from "../../../src/roles/checks.ts";
import { ConfigError } from "../../../src/config/errors.ts";
import { createFilter } from "../../../src/roles/watcher/filter.ts";

function matches(glob: string, paths: string[]): string[] {
  const match = compileGlob(glob);
  return paths.filter((p) => match(p));
}

const PATHS = ["a.txt", "b.csv", "d/a.txt", "d/e/f.txt", ".hidden", "d/.git", "x.tmp"];

Deno.test("glob: ** spans segments, * stays in one, basename patterns match at any depth", () => {
  assertEquals(matches("**/*", PATHS), PATHS);
  assertEquals(matches("**/*.txt", PATHS), ["a.txt", "d/a.txt", "d/e/f.txt"]);
  assertEquals(matches("*.txt", PATHS), ["a.txt", "d/a.txt", "d/e/f.txt"]);
  assertEquals(matches("d/*.txt", PATHS), ["d/a.txt"]);
  assertEquals(matches("d/**", PATHS), ["d/a.txt", "d/e/f.txt", "d/.git"]);
  assertEquals(matches("**/.*", PATHS), [".hidden", "d/.git"]);
  assertEquals(matches("*.{txt,csv}", PATHS), ["a.txt", "b.csv", "d/a.txt", "d/e/f.txt"]);
  assertEquals(matches("?.txt", PATHS), ["a.txt", "d/a.txt", "d/e/f.txt"]);
  assertEquals(matches("[!a]*.*", ["a.txt", "b.txt"]), ["b.txt"]);
  assertEquals(matches("a+b(1).txt", ["a+b(1).txt", "aab1.txt"]), ["a+b(1).txt"]);
});

Deno.test("filter: excludes prune directories; temp and cookie files are ignored", () => {
  const f = createFilter({ include: ["**/*"], exclude: ["cache"], ignore_temp_files: true });
  assertEquals(f.dir("cache"), false);
  assertEquals(f.dir("data"), true);
  assertEquals(
    ["a.txt", "a.txt.tmp", "a.txt~", ".#a.txt", "a.swp", ".jetport-cookie-x", "4913"]
      .filter((p) => f.file(p)),
    ["a.txt"],
  );
  const keepTemp = createFilter({ include: ["*.tmp"], exclude: [], ignore_temp_files: false });
  assertEquals(["a.tmp", "b.txt"].filter((p) => keepTemp.file(p)), ["a.tmp"]);
});

Deno.test("glob: malformed patterns are errors; [] classes and \\ escapes work", () => {
  for (const bad of ["*.{txt", "a(b", "[z-a]", "[abc"]) {
    assertMatch(globProblem(bad) ?? "", /^bad glob /, bad);
  }
  assertEquals(matches("[]a]", ["]", "a", "b"]), ["]", "a"]);
  assertEquals(matches("\\*.txt", ["*.txt", "a.txt"]), ["*.txt"]);
});

Deno.test("glob: a bad include is reported by the config load at its line:column and key path", () => {
  const err = assertThrows(
    () =>
      parseConfig(
        `roles:
  watcher:
    watches:
      - name: in
        path: /data/in
        include: ["*.csv", "*.{txt"]
        exclude: ["[z-a]"]
`,
        "jetport.yaml",
        { env: () => undefined },
      ),
    ConfigError,
  );
  assertEquals(err.problems.map((p) => [p.line, p.column, p.path]), [
    [6, 28, "roles.watcher.watches[0].include[1]"],
    [7, 19, "roles.watcher.watches[0].exclude[0]"],
  ]);
  assertMatch(err.problems[0].message, /bad glob "\*\.\{txt": Missing closing: "\}"/);
});
