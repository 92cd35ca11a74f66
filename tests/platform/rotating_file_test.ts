import { assert, assertEquals, assertRejects } from "../helpers/assert.ts";
import { openRotatingFile, RotatingFileError } from "../../src/platform/rotating_file.ts";

async function tempDir(): Promise<string> {
  return await Deno.makeTempDir({ prefix: "jetport-rotating-" });
}

async function readOrEmpty(path: string): Promise<string> {
  return await Deno.readTextFile(path).catch(() => "");
}

Deno.test("rotating file: nothing reaches the file before flush; flush writes it", async () => {
  const dir = await tempDir();
  const path = `${dir}/sub/dir/app.log`; // missing directories are created
  const f = await openRotatingFile(path, { maxSize: 1024, keep: 2, fsync: true });
  f.write("one\n");
  f.write(new TextEncoder().encode("two\n"));
  assertEquals(await readOrEmpty(path), "");
  assertEquals(f.buffered(), 8);
  await f.flush();
  assertEquals(await Deno.readTextFile(path), "one\ntwo\n");
  assertEquals(f.buffered(), 0);
  await f.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("rotating file: appends to an existing file and counts its size", async () => {
  const dir = await tempDir();
  const path = `${dir}/app.log`;
  await Deno.writeTextFile(path, "x".repeat(8) + "\n");
  const f = await openRotatingFile(path, { maxSize: 12, keep: 1 });
  f.write("ab\n"); // 9 + 3 = 12: still fits
  await f.flush();
  assertEquals(await Deno.readTextFile(path), "xxxxxxxx\nab\n");
  f.write("c\n"); // would exceed 12: rotates first
  await f.close();
  assertEquals(await Deno.readTextFile(path), "c\n");
  assertEquals(await Deno.readTextFile(`${path}.1`), "xxxxxxxx\nab\n");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("rotating file: rotates by size, keeps N files, never splits a chunk", async () => {
  const dir = await tempDir();
  const path = `${dir}/app.log`;
  const f = await openRotatingFile(path, { maxSize: 20, keep: 3 });
  const lines = Array.from({ length: 30 }, (_, i) => `line ${String(i).padStart(2, "0")}\n`);
  for (const [i, line] of lines.entries()) {
    f.write(line); // 8 bytes each: two per file
    if (i % 3 === 2) await f.flush(); // rotation also happens inside one flush
  }
  await f.close();
  const names = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
  assertEquals(names, ["app.log", "app.log.1", "app.log.2", "app.log.3"]);
  // Newest in the live file, older ones in .1, .2, .3; every file holds whole lines.
  assertEquals(await Deno.readTextFile(path), lines.slice(28).join(""));
  assertEquals(await Deno.readTextFile(`${path}.1`), lines.slice(26, 28).join(""));
  assertEquals(await Deno.readTextFile(`${path}.2`), lines.slice(24, 26).join(""));
  assertEquals(await Deno.readTextFile(`${path}.3`), lines.slice(22, 24).join(""));
  await Deno.remove(dir, { recursive: true });
});

Deno.test("rotating file: concurrent flushes keep the order of writes", async () => {
  const dir = await tempDir();
  const path = `${dir}/app.log`;
  const f = await openRotatingFile(path, { maxSize: 1 << 20, keep: 1 });
  const flushes: Promise<void>[] = [];
  for (let i = 0; i < 100; i++) {
    f.write(`${i}\n`);
    if (i % 7 === 0) flushes.push(f.flush());
  }
  flushes.push(f.flush());
  await Promise.all(flushes);
  const got = (await Deno.readTextFile(path)).trim().split("\n").map(Number);
  assertEquals(got, Array.from({ length: 100 }, (_, i) => i));
  await f.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("rotating file: a write error rejects flush with a clear error", async () => {
  const dir = await tempDir();
  const path = `${dir}/app.log`;
  const f = await openRotatingFile(path, { maxSize: 10, keep: 1 });
  f.write("0123456789");
  await f.flush();
  // Rotation cannot move the live file onto a non-empty directory named like its backup.
  await Deno.mkdir(`${path}.1/blocker`, { recursive: true });
  f.write("more\n");
  const err = await assertRejects(() => f.flush(), RotatingFileError);
  assert(err.message.includes(path), err.message);
  await f.close().catch(() => {});
  await Deno.remove(dir, { recursive: true });
});
