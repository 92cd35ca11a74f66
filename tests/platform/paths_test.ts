import { assertEquals } from "../helpers/assert.ts";
import { keyAncestors, keyBase, keyJoin, keyParent, osPaths } from "../../src/platform/paths.ts";

const win = osPaths("windows");
const posix = osPaths("posix");

Deno.test("paths: Windows paths under a drive-letter root become / keys, either separator, any case", () => {
  const root = "C:\\data\\in";
  assertEquals(win.keyOf(root, "C:\\data\\in"), "");
  assertEquals(win.keyOf(root, "C:\\data\\in\\a.txt"), "a.txt");
  assertEquals(win.keyOf(root, "C:\\data\\in\\sub\\deep\\b.txt"), "sub/deep/b.txt");
  assertEquals(win.keyOf(root, "C:/data/in/sub/b.txt"), "sub/b.txt");
  assertEquals(win.keyOf(root, "c:\\DATA\\In\\Sub\\B.TXT"), "Sub/B.TXT", "keeps the file's case");
  assertEquals(win.keyOf("c:\\Data\\IN\\", "C:\\data\\in\\x.txt"), "x.txt");
  assertEquals(win.keyOf(root, "\\\\?\\C:\\data\\in\\v.txt"), "v.txt", "verbatim prefix");
  assertEquals(win.keyOf(root, "C:\\data\\inbox\\a.txt"), undefined, "a sibling, not inside");
  assertEquals(win.keyOf(root, "C:\\data\\a.txt"), undefined);
  assertEquals(win.keyOf(root, "D:\\data\\in\\a.txt"), undefined, "another drive");
  assertEquals(win.keyOf(root, "C:\\data\\in\\..foo"), "..foo", "a name starting with ..");
});

Deno.test("paths: a drive root and a UNC share root", () => {
  assertEquals(win.keyOf("C:\\", "C:\\a.txt"), "a.txt");
  assertEquals(win.keyOf("C:\\", "c:\\Dir\\a.txt"), "Dir/a.txt");
  assertEquals(win.keyOf("C:\\", "C:\\"), "");
  const share = "\\\\server\\share";
  assertEquals(win.keyOf(share, "\\\\server\\share\\in\\a.txt"), "in/a.txt");
  assertEquals(win.keyOf(share, "\\\\SERVER\\Share\\a.txt"), "a.txt");
  assertEquals(win.keyOf(share, "//server/share/a.txt"), "a.txt");
  assertEquals(win.keyOf(share, "\\\\?\\UNC\\server\\share\\a.txt"), "a.txt");
  assertEquals(win.keyOf(share, "\\\\server\\other\\a.txt"), undefined, "another share");
});

Deno.test("paths: keys back to OS paths, and the same path in another spelling", () => {
  assertEquals(win.fromKey("C:\\data\\in", "sub/b.txt"), "C:\\data\\in\\sub\\b.txt");
  assertEquals(win.fromKey("C:\\data\\in", ""), "C:\\data\\in");
  assertEquals(win.fromKey("C:\\", "a.txt"), "C:\\a.txt");
  assertEquals(win.fromKey("\\\\server\\share", "in/a.txt"), "\\\\server\\share\\in\\a.txt");
  assertEquals(win.join("C:\\state", "watcher", "outbox"), "C:\\state\\watcher\\outbox");
  assertEquals(win.same("C:\\Data\\In", "c:/data/in/"), true);
  assertEquals(win.same("C:\\data\\in", "C:\\data\\inbox"), false);
  assertEquals(win.display(".\\data\\in\\"), "data\\in");
  assertEquals(win.display("C:\\"), "C:", "a drive root loses its separator only");
});

Deno.test("paths: POSIX paths and keys, the filesystem root included", () => {
  assertEquals(posix.keyOf("/data/in", "/data/in"), "");
  assertEquals(posix.keyOf("/data/in", "/data/in/sub/a.txt"), "sub/a.txt");
  assertEquals(posix.keyOf("/data/in", "/data/inbox/a.txt"), undefined);
  assertEquals(posix.keyOf("/data/in", "/data/In/a.txt"), undefined, "case matters");
  assertEquals(posix.keyOf("/data/in/", "/data/in/a.txt"), "a.txt");
  assertEquals(posix.keyOf("/", "/etc/hosts"), "etc/hosts");
  assertEquals(posix.keyOf("/data/in", "/data/in/a\\b.txt"), "a\\b.txt", "\\ is a name character");
  assertEquals(posix.fromKey("/", "etc/hosts"), "/etc/hosts");
  assertEquals(posix.fromKey("/data/in", "a/b"), "/data/in/a/b");
  assertEquals(posix.display("./test/storage/"), "test/storage");
  assertEquals(posix.display("/"), "/");
});

Deno.test("paths: key helpers", () => {
  assertEquals(keyJoin("", "a"), "a");
  assertEquals(keyJoin("a/b", "c"), "a/b/c");
  assertEquals(keyParent("a/b/c"), "a/b");
  assertEquals(keyParent("a"), "");
  assertEquals(keyBase("a/b/c.txt"), "c.txt");
  assertEquals(keyBase("c.txt"), "c.txt");
  assertEquals(keyAncestors("a/b/c"), ["a", "a/b"]);
  assertEquals(keyAncestors("c"), []);
});

/**
 * Places in src/ that join or split on "/" by hand, and why they may: none of them is an OS
 * path. Anything else is an OS path handled outside src/platform/paths.ts.
 */
const NOT_OS_PATHS: Record<string, string> = {
  "src/roles/upload_processor/s3.ts": "an S3 object key encoded into a URL path",
  "src/roles/upload_processor/paths.ts": "an S3 object key from an event, checked segment-wise",
  "src/platform/service/systemd.ts": "systemd unit paths: Linux only",
};

/** `+ "/"`, `"/" +`, `split("/")`, `lastIndexOf("/")` (strings in either quote). */
const HAND_MADE =
  /\+\s*["'`]\/["'`]|["'`]\/["'`]\s*\+|\.split\(\s*["'`]\/["'`]\s*\)|\.lastIndexOf\(\s*["'`]\/["'`]\s*\)/;

const ROOT = new URL("../../", import.meta.url).pathname;

Deno.test("paths: no OS path is joined or split on / by hand outside src/platform/paths.ts", async () => {
  const found: string[] = [];
  const walk = async (dir: string) => {
    for await (const e of Deno.readDir(ROOT + dir)) {
      const path = `${dir}/${e.name}`;
      if (e.isDirectory) await walk(path);
      else if (path.endsWith(".ts") && path !== "src/platform/paths.ts" && !NOT_OS_PATHS[path]) {
        const lines = (await Deno.readTextFile(ROOT + path)).split("\n");
        lines.forEach((line, i) => {
          if (HAND_MADE.test(line)) found.push(`${path}:${i + 1}: ${line.trim()}`);
        });
      }
    }
  };
  await walk("src");
  assertEquals(found, [], "use src/platform/paths.ts (or list a non-OS use in NOT_OS_PATHS)");
});
