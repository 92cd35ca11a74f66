import { assertEquals } from "../../helpers/assert.ts";
import { osPaths } from "../../../src/platform/paths.ts";
import { createFilter } from "../../../src/roles/watcher/filter.ts";
import { eventKeys, type IntakeContext } from "../../../src/roles/watcher/intake.ts";

const filter = createFilter({
  include: ["**/*"],
  exclude: ["skip/**", "skip"],
  ignore_temp_files: true,
});

/** A Windows context: `Deno.watchFs` there reports paths with `\`, as the root was opened. */
function windows(root: string): IntakeContext {
  return { root, paths: osPaths("windows"), cookieName: ".jetport-cookie-w", filter };
}

function event(kind: Deno.FsEvent["kind"], ...paths: string[]): Deno.FsEvent {
  return { kind, paths };
}

Deno.test("intake: Windows events under a drive-letter root become keys; a rename across directories names both", () => {
  const ctx = windows("C:\\data\\in");
  assertEquals(eventKeys(event("create", "C:\\data\\in\\a.txt"), ctx).keys, ["a.txt"]);
  assertEquals(
    eventKeys(event("rename", "C:\\data\\in\\old\\a.txt", "C:\\data\\in\\new\\deep\\a.txt"), ctx)
      .keys,
    ["old/a.txt", "new/deep/a.txt"],
  );
  assertEquals(
    eventKeys(event("rename", "C:\\data\\in\\a.txt", "C:\\data\\elsewhere\\a.txt"), ctx).keys,
    ["a.txt"],
    "moved out of the root: only the side inside",
  );
  assertEquals(eventKeys(event("modify", "C:\\data\\in"), ctx).keys, [], "the root itself");
  assertEquals(eventKeys(event("modify", "C:\\data\\inbox\\x.txt"), ctx).keys, []);
});

Deno.test("intake: mixed-case and forward-slash Windows paths match the root", () => {
  const ctx = windows("C:\\Data\\In");
  assertEquals(eventKeys(event("modify", "c:\\data\\in\\Report.PDF"), ctx).keys, ["Report.PDF"]);
  assertEquals(eventKeys(event("modify", "C:/DATA/IN/sub/x.txt"), ctx).keys, ["sub/x.txt"]);
});

Deno.test("intake: a drive root and a UNC share root", () => {
  assertEquals(eventKeys(event("create", "D:\\x\\y.txt"), windows("D:\\")).keys, ["x/y.txt"]);
  const share = windows("\\\\fileserver\\drop");
  assertEquals(
    eventKeys(event("create", "\\\\fileserver\\drop\\batch\\1.csv"), share).keys,
    ["batch/1.csv"],
  );
  assertEquals(
    eventKeys(event("create", "\\\\FILESERVER\\Drop\\2.csv"), share).keys,
    ["2.csv"],
  );
  assertEquals(eventKeys(event("create", "\\\\fileserver\\other\\3.csv"), share).keys, []);
});

Deno.test("intake: the cookie file is noticed, not announced; what an exclude covers is dropped", () => {
  const ctx = windows("C:\\data\\in");
  const cookie = eventKeys(event("create", "C:\\data\\in\\.jetport-cookie-w"), ctx);
  assertEquals(cookie, { keys: [], cookie: true });
  assertEquals(eventKeys(event("create", "C:\\data\\in\\skip\\a.txt"), ctx).keys, []);
  assertEquals(eventKeys(event("create", "C:\\data\\in\\skip"), ctx).keys, []);
});

Deno.test("intake: POSIX events, where \\ is part of a name", () => {
  const ctx: IntakeContext = {
    root: "/data/in",
    paths: osPaths("posix"),
    cookieName: ".jetport-cookie-w",
    filter,
  };
  assertEquals(
    eventKeys(event("rename", "/data/in/a/x.txt", "/data/in/b/x.txt"), ctx).keys,
    ["a/x.txt", "b/x.txt"],
  );
  assertEquals(eventKeys(event("create", "/data/in/a\\b.txt"), ctx).keys, ["a\\b.txt"]);
  assertEquals(eventKeys(event("create", "/data/In/a.txt"), ctx).keys, []);
});
