/**
 * The loss detector's answers for a sequence of OS events: which rescan is due and why, above all
 * that a rescan's cookie tells the losses it covers from the ones after it began.
 */
import { getLogger } from "@logtape/logtape";
import { assertEquals } from "../../helpers/assert.ts";
import { Registry } from "../../../src/http/metrics.ts";
import { watcherMetrics } from "../../../src/roles/watcher/metrics.ts";
import { createLossDetector, type LossDetector } from "../../../src/roles/watcher/loss.ts";

const COOKIE_INTERVAL = 10_000;

/** A detector whose cookie writes are recorded (their times), or fail with `cookieFails`. */
function detector(
  cookieInterval = COOKIE_INTERVAL,
  cookieFails?: Error,
): { loss: LossDetector; cookies: number[] } {
  const cookies: number[] = [];
  const loss = createLossDetector({
    name: "w",
    root: "/data",
    burstThreshold: 100,
    burstQuiet: 200,
    cookieInterval,
    writeCookie: (content) => {
      if (cookieFails) throw cookieFails;
      cookies.push(Number(content));
    },
    removeCookie: () => Promise.resolve(),
    log: getLogger(["jetport", "test"]),
    metrics: watcherMetrics(new Registry()),
  });
  return { loss, cookies };
}

const overflow: Deno.FsEvent = { kind: "other", paths: [], flag: "rescan" };
const created = (n: number): Deno.FsEvent => ({ kind: "create", paths: [`/data/f${n}`] });
const cookieEvent: Deno.FsEvent = { kind: "modify", paths: ["/data/.jetport-cookie-w"] };

Deno.test("loss detector: an overflow read before the rescan's cookie comes back starts no other rescan; one read after it does", () => {
  const { loss, cookies } = detector();
  // True: the watcher starts the rescan at once instead of at its next tick.
  assertEquals(loss.observe(overflow, false, 1000), true);
  assertEquals(loss.takeRescan(1000), "overflow");
  loss.rescanning(1000, true);
  assertEquals(cookies, [1000]);
  // Queued before the cookie, so before the rescan began: covered by it.
  assertEquals(loss.observe(overflow, false, 1500), false);
  assertEquals(loss.takeRescan(1500), undefined);
  assertEquals(loss.observe(cookieEvent, true, 1600), false);
  assertEquals(loss.observe(overflow, false, 1700), true);
  assertEquals(loss.takeRescan(1700), "overflow");
});

Deno.test("loss detector: when the rescan's cookie is lost as well, the cookie check rescans", () => {
  const { loss, cookies } = detector();
  loss.rescanning(1000, true);
  loss.observe(overflow, false, 1500);
  assertEquals(loss.takeRescan(1500), undefined);
  loss.cookieTick(1000 + COOKIE_INTERVAL - 1, true);
  assertEquals(loss.takeRescan(1000 + COOKIE_INTERVAL - 1), undefined);
  loss.cookieTick(1000 + COOKIE_INTERVAL, true);
  assertEquals(loss.takeRescan(1000 + COOKIE_INTERVAL), "cookie");
  assertEquals(cookies, [1000, 1000 + COOKIE_INTERVAL]);
});

Deno.test("loss detector: a burst read before the rescan's cookie is covered by it; a burst after it is answered", () => {
  const { loss } = detector();
  for (let i = 0; i < 150; i++) loss.observe(created(i), false, 1000);
  loss.rescanning(1100, true);
  for (let i = 150; i < 300; i++) loss.observe(created(i), false, 1200);
  assertEquals(loss.takeRescan(2000), undefined);
  loss.observe(cookieEvent, true, 2100);
  for (let i = 300; i < 450; i++) loss.observe(created(i), false, 2200);
  // Answered once no event came for burstQuiet.
  assertEquals(loss.takeRescan(2300), undefined);
  assertEquals(loss.takeRescan(2400), "burst");
});

Deno.test("loss detector: without the cookie check (or while polling) every overflow rescans", () => {
  for (const [interval, watching] of [[0, true], [COOKIE_INTERVAL, false]] as const) {
    const { loss, cookies } = detector(interval);
    loss.rescanning(1000, watching);
    loss.observe(overflow, false, 1500);
    assertEquals(loss.takeRescan(1500), "overflow", `interval ${interval}, watching ${watching}`);
    assertEquals(cookies, []);
  }
});

Deno.test("loss detector: a cookie that cannot be written covers nothing", () => {
  const { loss } = detector(COOKIE_INTERVAL, new Error("read-only file system"));
  loss.rescanning(1000, true);
  loss.observe(overflow, false, 1500);
  assertEquals(loss.takeRescan(1500), "overflow");
});
