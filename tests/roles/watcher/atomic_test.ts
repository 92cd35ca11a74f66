import { assert } from "../../helpers/assert.ts";
import { tempDir } from "./helpers.ts";
import { writeFileAtomic } from "../../../src/roles/watcher/atomic.ts";

Deno.test("writeFileAtomic: two writes of one path at once both succeed; one of the two contents remains", async () => {
  const dir = await tempDir("atomic");
  const path = `${dir}/cursor`;
  await Promise.all([writeFileAtomic(path, "one\n"), writeFileAtomic(path, "two\n")]);
  const text = await Deno.readTextFile(path);
  assert(text === "one\n" || text === "two\n", JSON.stringify(text));
  const left = [...Deno.readDirSync(dir)].map((e) => e.name);
  assert(left.length === 1, `no temp file left behind: ${left}`);
});
