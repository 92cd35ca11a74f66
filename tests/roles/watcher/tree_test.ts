import { assertEquals } from "../../helpers/assert.ts";
import { createTree } from "../../../src/roles/watcher/tree.ts";
import type { FileState } from "../../../src/roles/watcher/state.ts";
import { createSnapshot } from "../../../src/roles/watcher/snapshot.ts";

const file = (ino: number, size = 10, mtime = 1000): FileState => ({
  size,
  mtime,
  ino,
  dir: false,
});
const dir = (ino: number): FileState => ({ size: 0, mtime: 1, ino, dir: true });
const gone = () => null;

function summary(changes: { type: string; path: string; oldPath?: string }[]) {
  return changes.map((c) =>
    c.oldPath ? `${c.type} ${c.oldPath} -> ${c.path}` : `${c.type} ${c.path}`
  );
}

Deno.test("tree: a deletion then a creation of the same inode within settle is one rename", () => {
  const tree = createTree(createSnapshot([["a.txt", file(7)]]));
  assertEquals(tree.apply(new Map([["a.txt", null]]), 0, gone), []);
  assertEquals(summary(tree.apply(new Map([["b.txt", file(7)]]), 50, gone)), [
    "renamed a.txt -> b.txt",
  ]);
  assertEquals(tree.expire(1000, 100), []);
});

Deno.test("tree: the new half first is a rename too; a reused inode with new content is not", () => {
  const tree = createTree(createSnapshot([["a.txt", file(7)], ["c.txt", file(8)]]));
  assertEquals(summary(tree.apply(new Map([["b.txt", file(7)]]), 0, gone)), [
    "renamed a.txt -> b.txt",
  ]);
  assertEquals(tree.apply(new Map([["c.txt", null]]), 0, gone), []);
  assertEquals(summary(tree.apply(new Map([["d.txt", file(8, 99, 2000)]]), 10, gone)), [
    "created d.txt",
  ]);
  assertEquals(summary(tree.expire(200, 100)), ["deleted c.txt"]);
});

Deno.test("tree: a renamed directory re-keys its children; a deleted one deletes them", () => {
  const tree = createTree(
    createSnapshot([["d", dir(1)], ["d/x", file(2)], ["d/sub", dir(3)], ["d/sub/y", file(4)]]),
  );
  const observed = new Map<string, FileState | null>([
    ["d", null],
    ["e", dir(1)],
    ["e/x", file(2)],
    ["e/sub", dir(3)],
    ["e/sub/y", file(4)],
  ]);
  assertEquals(summary(tree.apply(observed, 0, gone)).sort(), [
    "renamed d/sub/y -> e/sub/y",
    "renamed d/x -> e/x",
  ]);
  assertEquals([...tree.snapshot.keys()].sort(), ["e", "e/sub", "e/sub/y", "e/x"]);
  assertEquals(tree.apply(new Map([["e", null]]), 0, gone), []);
  assertEquals(summary(tree.expire(0, 0)).sort(), ["deleted e/sub/y", "deleted e/x"]);
  assertEquals(tree.snapshot.size, 0);
});

Deno.test("tree: a file replaced before its deletion went out is one modified", () => {
  const tree = createTree(createSnapshot([["a.txt", file(7)]]));
  tree.apply(new Map([["a.txt", null]]), 0, gone);
  assertEquals(summary(tree.apply(new Map([["a.txt", file(9, 20, 3000)]]), 10, gone)), [
    "modified a.txt",
  ]);
  assertEquals(tree.expire(1000, 0), []);
});
