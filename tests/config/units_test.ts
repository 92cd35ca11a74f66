import { assertEquals, assertStringIncludes } from "../helpers/assert.ts";
import { parseSize, size } from "../../src/config/units.ts";

Deno.test("sizes read like nats-server's config: 1K = 1000, 1KB = 1024, IEC units binary", () => {
  const cases: [string, number][] = [
    ["1024", 1024],
    ["100B", 100],
    ["1K", 1000],
    ["1k", 1000],
    ["1KB", 1024],
    ["1kb", 1024],
    ["2M", 2_000_000],
    ["2MB", 2 * 1024 ** 2],
    ["3G", 3_000_000_000],
    ["3GB", 3 * 1024 ** 3],
    ["512KiB", 512 * 1024],
    ["100MiB", 100 * 1024 ** 2],
    ["10GiB", 10 * 1024 ** 3],
    ["1TiB", 1024 ** 4],
    ["1.5GiB", 1.5 * 1024 ** 3],
  ];
  for (const [text, bytes] of cases) assertEquals(parseSize(text), bytes, text);
});

Deno.test("a size that is not one says what to write", () => {
  for (const text of ["1TB", "10 parsecs", "MB", "-1MB"]) assertEquals(parseSize(text), undefined);
  const result = size().safeParse("10XB");
  assertEquals(result.success, false);
  assertStringIncludes(
    result.error!.issues[0].message,
    `"10XB" is not a size: write bytes, or a number with KiB/MiB/GiB/TiB (×1024); as in ` +
      "nats-server, K/M/G are ×1000 and KB/MB/GB ×1024",
  );
});
