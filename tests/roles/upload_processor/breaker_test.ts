import { assert, assertEquals, assertMatch, waitFor } from "../../helpers/assert.ts";
import { Registry } from "../../../src/http/metrics.ts";
import { logger } from "../../../src/platform/logging.ts";
import { createBreaker } from "../../../src/roles/upload_processor/breaker.ts";
import { permanent, retryable } from "../../../src/roles/upload_processor/failure.ts";

const s3Down = retryable("s3_error", "GET s3://b/k failed: connection refused", "s3");
const forbidden = retryable("s3_error", "GET s3://b/k: 403 AccessDenied");

function breaker(up: () => boolean) {
  const metrics = new Registry();
  const calls: string[] = [];
  const b = createBreaker({
    threshold: 3,
    probeBackoff: [10],
    probe: (dependency) => {
      calls.push(`probe ${dependency}`);
      return Promise.resolve(up());
    },
    hold: () => (calls.push("hold"), Promise.resolve()),
    release: () => (calls.push("release"), Promise.resolve()),
    onClose: () => calls.push("pull"),
    log: logger("test"),
    openGauge: metrics.gauge("open", ""),
    opened: metrics.counter("opened", ""),
  });
  return { b, calls, gauge: () => metrics.gauge("open", "").get() };
}

Deno.test("breaker: opens after outage failures of 3 different events, not of one event retried, and not across a failure that reached S3", () => {
  const { b, gauge } = breaker(() => false);
  assertEquals([b.failed(s3Down, "a"), b.failed(s3Down, "a"), b.failed(s3Down, "b")], [
    false,
    false,
    false,
  ]);
  assertEquals(b.failed(forbidden, "c"), false, "S3 answered: the streak starts again");
  assertEquals(b.failed(permanent("object_missing", "404"), "d"), false);
  assertEquals([b.failed(s3Down, "e"), b.failed(s3Down, "f")], [false, false]);
  b.succeeded();
  assertEquals([b.failed(s3Down, "g"), b.failed(s3Down, "h")], [false, false]);
  assertEquals(b.open, false);
  assertEquals(b.failed(s3Down, "i"), true);
  assertEquals(b.open, true);
  assertEquals(gauge(), 1);
  assertMatch(b.reason()!, /^circuit open since .*: S3 is down \(GET s3:\/\/b\/k failed/);
  assertEquals(b.failed(s3Down, "j"), true, "another outage failure while open waits too");
  assertEquals(b.failed(forbidden, "k"), false, "a failure that is not an outage does not wait");
  b.close();
});

Deno.test("breaker: probes while open (holding the consumer), closes on the first good probe, lets waiters go and pulls again", async () => {
  let up = false;
  const { b, calls, gauge } = breaker(() => up);
  for (const id of ["a", "b", "c"]) b.failed(s3Down, id);
  const waiting = b.closed(new AbortController().signal);
  await waitFor(() => calls.filter((c) => c === "probe s3").length >= 2, 5000, "probes");
  assert(b.open, "still open while probes fail");
  up = true;
  await waiting;
  assertEquals(b.open, false);
  assertEquals(gauge(), 0);
  assertEquals(b.reason(), undefined);
  assertEquals(calls.slice(0, 2), ["hold", "probe s3"]);
  assertEquals(calls.slice(-3), ["probe s3", "release", "pull"]);
});

Deno.test("breaker: close() (role stop) ends the probing and lets waiters go", async () => {
  const { b } = breaker(() => false);
  for (const id of ["a", "b", "c"]) b.failed(s3Down, id);
  const waiting = b.closed(new AbortController().signal);
  b.close();
  await waiting;
});
