/**
 * Waiting that a stop can cut short, and yielding to the event loop. Every loop that backs off,
 * polls or waits for a deadline uses `delay` and `beforeDeadline`, so a stop signal ends every wait
 * at once and a deadline is written one way; long loops yield with `yieldToEventLoop`.
 * @module
 */
import { setImmediate } from "node:timers";

/**
 * Resolves after `ms` milliseconds, or as soon as `signal` aborts (resolving, not rejecting: the
 * caller checks its own stop condition next). The timer never keeps the process alive past an
 * abort.
 */
export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted || ms <= 0) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}

/**
 * Resolves after the event loop has run once: pending I/O (acks, watch events) and due timers get
 * their turn. Long loops call it between slices of work. Not `setTimeout(0)`: a timer set from a
 * timer's continuation is clamped (HTML nesting rule) and cost 1–4 ms per yield here, 0.9 s of
 * idle in a scan of 100k files; an immediate costs about 10 µs.
 */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** What {@link beforeDeadline} resolves to when the deadline came first. */
export const DEADLINE_PASSED: unique symbol = Symbol("deadline passed");

/**
 * Races `work` against the wall-clock `deadline` (epoch ms): its value when it settles first,
 * {@link DEADLINE_PASSED} otherwise. `work` is not cancelled; its later rejection is swallowed so
 * it cannot surface as an unhandled rejection after the caller moved on.
 */
export async function beforeDeadline<T>(
  work: Promise<T>,
  deadline: number,
): Promise<T | typeof DEADLINE_PASSED> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const passed = new Promise<typeof DEADLINE_PASSED>((resolve) => {
    timer = setTimeout(() => resolve(DEADLINE_PASSED), Math.max(0, deadline - Date.now()));
  });
  work.catch(() => {});
  try {
    return await Promise.race([work, passed]);
  } finally {
    clearTimeout(timer);
  }
}
