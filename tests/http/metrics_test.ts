import { assert, assertEquals, assertMatch, assertStringIncludes } from "../helpers/assert.ts";
import { Registry } from "../../src/http/metrics.ts";
import { readProcessSamples, renderProcessMetrics } from "../../src/http/process_metrics.ts";
import { NO_PROMTOOL, promtool, promtoolPath } from "./promtool.ts";

/** A registry with every hard case: escapes, infinities, known label sets, a histogram. */
function awkwardRegistry(): Registry {
  const r = new Registry();
  r.counter("events_total", 'Events "seen", by path\nand a C:\\ path', {
    labels: { type: ["created", "deleted"] },
  }).inc({ type: "created", path: 'a "quoted"\nC:\\dir' });
  r.gauge("limit", "A limit that may be unbounded").set(Infinity);
  r.gauge("below", "Minus infinity").set(-Infinity);
  r.gauge("ready", "One unlabelled series at 0", { labels: {} });
  r.histogram("seconds", "Durations", [0.1, 1, Infinity], { labels: { role: ["a"] } })
    .observe(0.5, { role: "a" });
  return r;
}

Deno.test("metrics: HELP and label values escaped, +Inf and -Inf spelled as Prometheus reads them", () => {
  const text = awkwardRegistry().render();
  assertStringIncludes(
    text,
    '# HELP jetport_events_total Events "seen", by path\\nand a C:\\\\ path\n',
  );
  assertStringIncludes(text, 'path="a \\"quoted\\"\\nC:\\\\dir"');
  assertMatch(text, /^jetport_limit \+Inf$/m);
  assertMatch(text, /^jetport_below -Inf$/m);
  assert(!text.includes("Infinity"), text);
  // A declared +Inf bucket is not repeated: +Inf is always the last one.
  assertEquals(text.match(/jetport_seconds_bucket\{role="a",le="\+Inf"\} 1/g)?.length, 1);
});

Deno.test("metrics: every series of a known label set is there at 0 before its first event", () => {
  const text = awkwardRegistry().render();
  assertMatch(text, /^jetport_events_total\{type="created"\} 0$/m);
  assertMatch(text, /^jetport_events_total\{type="deleted"\} 0$/m);
  assertMatch(text, /^jetport_ready 0$/m);
  const r = new Registry();
  r.counter("restarts_total", "Restarts", { labels: { role: ["watcher", "monitor"] } });
  assertEquals(
    r.render().split("\n").filter((l) => !l.startsWith("#") && l),
    ['jetport_restarts_total{role="watcher"} 0', 'jetport_restarts_total{role="monitor"} 0'],
  );
});

Deno.test("metrics: a bound series counts into the same series as the labelled calls", () => {
  const r = new Registry();
  const published = r.counter("published_total", "Published", { labels: { role: ["a", "b"] } });
  const inFlight = r.gauge("in_flight", "In flight");
  const a = published.bind({ role: "a" });
  a.inc();
  a.inc(2);
  published.inc({ role: "a" });
  inFlight.bind({ role: "a" }).set(7);
  assertEquals(published.get({ role: "a" }), 4);
  assertEquals(published.get({ role: "b" }), 0);
  assertEquals(inFlight.get({ role: "a" }), 7);
  assertMatch(r.render(), /^jetport_published_total\{role="a"\} 4$/m);
  assertMatch(r.render(), /^jetport_in_flight\{role="a"\} 7$/m);
});

Deno.test("process metrics: resident memory, start time, CPU seconds (and fds on Linux)", async () => {
  const samples = Object.fromEntries((await readProcessSamples()).map((s) => [s.name, s.value]));
  assert(samples.process_resident_memory_bytes > 10 * 1024 * 1024, "RSS of a Deno process");
  const now = Date.now() / 1000;
  assert(samples.process_start_time_seconds <= now, "started in the past");
  assert(samples.process_start_time_seconds > now - 3600, "started within the hour");
  assert(samples.process_cpu_seconds_total > 0, "some CPU used");
  if (Deno.build.os === "linux") {
    assert(samples.process_open_fds >= 3, "stdin, stdout, stderr at least");
    assert(samples.process_max_fds >= samples.process_open_fds);
    assert(samples.process_virtual_memory_bytes >= samples.process_resident_memory_bytes);
  }
});

Deno.test({
  name: "metrics: the exposition passes promtool check metrics",
  ignore: promtoolPath() === undefined,
  async fn() {
    const text = awkwardRegistry().render() + await renderProcessMetrics();
    const { code, output } = await promtool(["check", "metrics"], text);
    assertEquals(code, 0, `${output}\n${text}`);
  },
});

if (promtoolPath() === undefined) console.warn(`tests/http/metrics_test.ts: ${NO_PROMTOOL}`);
