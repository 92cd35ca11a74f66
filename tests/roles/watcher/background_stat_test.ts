import { assert, assertEquals } from "../../helpers/assert.ts";
import { createBackgroundStat } from "../../../src/roles/watcher/background_stat.ts";
import { packStates, unpackState } from "../../../src/roles/watcher/stat_pack.ts";
import { type FileState, lstatState } from "../../../src/roles/watcher/state.ts";
import { tempDir } from "./helpers.ts";

/** A directory with files, a subdirectory, a symlink, a missing name and a name too long. */
async function entries(): Promise<string[]> {
  const dir = await tempDir("bgstat");
  const files = Array.from({ length: 700 }, (_, i) => `${dir}/f${i}`);
  for (const [i, f] of files.entries()) await Deno.writeTextFile(f, "x".repeat(i));
  await Deno.mkdir(`${dir}/sub`);
  await Deno.symlink(`${dir}/missing-target`, `${dir}/link`);
  // ENAMETOOLONG: an lstat error that is not "nothing there".
  return [...files, `${dir}/sub`, `${dir}/link`, `${dir}/gone`, `${dir}/${"n".repeat(300)}`];
}

/** What the stat thread's caller ends up with: the thread's state, else its own lstat's. */
function resolve(path: string, known: FileState | null | undefined): FileState | null | "error" {
  if (known !== undefined) return known;
  try {
    return lstatState(path);
  } catch {
    return "error";
  }
}

/** The same, read on this thread. */
function inline(path: string): FileState | null | "error" {
  return resolve(path, undefined);
}

Deno.test("stat pack: each path's state reads back as lstat gives it; an error is left to the caller", async () => {
  const paths = await entries();
  const packed = packStates(paths);
  const got = paths.map((p, i) => unpackState(packed, i));
  assertEquals(got.map((s, i) => resolve(paths[i], s)), paths.map(inline));
  assertEquals(got.at(-1), undefined, "the name too long is read again by the caller");
  assertEquals(got.at(-2), null, "nothing there");
  assertEquals(got.at(-4)?.dir, true);
});

Deno.test("background stat: slices come back in order, as lstat on this thread reads them", async () => {
  // More than one message's worth (4096), so the slices of several messages come back in order.
  const distinct = await entries();
  const paths = Array.from({ length: 9000 }, (_, i) => distinct[(i * 7) % distinct.length]);
  using stat = createBackgroundStat({
    onError: (err) => {
      throw err;
    },
  });
  const next = stat.prefetch(paths, 64);
  const got: Array<FileState | null | "error"> = [];
  for (let start = 0; start < paths.length; start += 64) {
    const packed = await next();
    assert(packed !== undefined, "the thread answered");
    const n = Math.min(64, paths.length - start);
    for (let i = 0; i < n; i++) got.push(resolve(paths[start + i], unpackState(packed, i)));
  }
  assertEquals(got, paths.map(inline));
  assert(stat.running);
  // An empty listing asks nothing; the next one's slices are still its own.
  assertEquals(await stat.prefetch([], 64)(), undefined);
  const dir = distinct.at(-4)!;
  assertEquals(unpackState((await stat.prefetch([dir], 64)())!, 0)?.dir, true);
});

Deno.test("background stat: a thread that cannot start is reported once; slices resolve undefined", async () => {
  const errors: string[] = [];
  using stat = createBackgroundStat({
    onError: (err) => errors.push(err.message),
    workerUrl: new URL("./no_such_worker.ts", import.meta.url).href,
  });
  const next = stat.prefetch(["/a", "/b", "/c"], 1);
  assertEquals([await next(), await next(), await next()], [undefined, undefined, undefined]);
  assertEquals(errors.length, 1, errors.join("\n"));
  assertEquals(await stat.prefetch(["/d"], 1)(), undefined, "no second start");
  assertEquals(errors.length, 1);
  assert(!stat.running);
});

Deno.test("background stat: the thread ends once idle, and starts again on the next request", async () => {
  using stat = createBackgroundStat({
    onError: (err) => {
      throw err;
    },
    idleMs: 50,
  });
  stat.warm();
  assert(stat.running, "warmed: started before any request");
  while (stat.running) await new Promise((r) => setTimeout(r, 10));
  assert((await stat.prefetch([Deno.cwd()], 1)()) !== undefined);
  assert(stat.running);
  while (stat.running) await new Promise((r) => setTimeout(r, 10));
  const packed = await stat.prefetch([Deno.cwd()], 1)();
  assertEquals(unpackState(packed!, 0)?.dir, true);
  stat.close();
  assert(!stat.running);
});
