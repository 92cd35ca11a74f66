import { assertEquals } from "../helpers/assert.ts";
import { formatRate, progressLine, startProgress } from "../../src/platform/progress.ts";

Deno.test("progress: plain lines at most once per interval when not a terminal", () => {
  let t = 0;
  const out: string[] = [];
  const p = startProgress({
    label: "publish",
    total: 1000,
    unit: "msgs",
    tty: false,
    interval: 1000,
    write: (s) => out.push(s),
    now: () => t,
  });
  for (let i = 0; i < 1000; i++) {
    t += 5; // 5 s in all: one line per second
    p.tick();
  }
  p.done();
  assertEquals(out.length, 5);
  assertEquals(out[0], "publish 20% 200/1000 msgs 200/s\n");
  assertEquals(out.every((l) => l.endsWith("\n") && !l.includes("\r")), true);
});

Deno.test("progress: a terminal gets a redrawn bar, cleared by done()", () => {
  let t = 0;
  const out: string[] = [];
  const p = startProgress({
    label: "replay",
    total: 10,
    tty: true,
    write: (s) => out.push(s),
    now: () => t,
  });
  t = 1000;
  p.tick(5);
  p.done();
  p.done();
  assertEquals(out[0], `\r\x1b[2Kreplay [${"#".repeat(15)}${"-".repeat(15)}] 50% 5/10 items 5/s`);
  assertEquals(out.slice(1), ["\r\x1b[2K"]);
});

Deno.test("progress: unknown total, rates, silent", () => {
  assertEquals(progressLine("x", 42, undefined, "msgs", 2000, true), "x 42 msgs 21/s");
  assertEquals(formatRate(123_456), "123.5k/s");
  assertEquals(formatRate(2_500_000), "2.5M/s");
  const out: string[] = [];
  const p = startProgress({
    label: "x",
    tty: false,
    interval: 0,
    silent: true,
    write: (s) => out.push(s),
  });
  p.tick();
  assertEquals(out, []);
});
