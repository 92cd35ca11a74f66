/**
 * `--rate N/s` for commands that send messages: parsing and pacing.
 * @module
 */
import { UsageError } from "./args.ts";

/** Parses `100/s`, `100`, `6000/m` into messages per second. */
export function parseRate(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(?:\/(s|m|h))?$/.exec(text.trim());
  const per = { s: 1, m: 60, h: 3600 }[m?.[2] ?? "s"] ?? 1;
  const rate = m ? Number(m[1]) / per : NaN;
  if (!(rate > 0)) throw new UsageError(`--rate must look like 100/s, got "${text}"`);
  return rate;
}

/**
 * Paces a loop at `perSecond`: `await pace()` before each message returns at once while the
 * loop is behind schedule and sleeps while it is ahead, so the average rate holds without
 * drifting.
 */
export function pacer(perSecond: number, now: () => number = Date.now): () => Promise<void> {
  const start = now();
  let sent = 0;
  return async () => {
    const due = start + (sent++ * 1000) / perSecond;
    const wait = due - now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  };
}
