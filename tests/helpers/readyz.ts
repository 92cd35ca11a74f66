/**
 * The daemon's `/readyz` as tests see it: one answer, or waiting until it says ready.
 * @module
 */
import { waitFor } from "./assert.ts";

/** One `GET /readyz` on `127.0.0.1:port`: the status and the body (JSON text). */
export async function readyz(port: number): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}/readyz`);
  return { status: res.status, body: await res.text() };
}

/**
 * Waits until `/readyz` on `port` answers 200; nothing listening yet counts as not ready. The
 * timeout is generous by default: the daemon starts as a child process on a loaded machine.
 */
export async function waitReady(port: number, timeoutMs = 20_000, what = "ready"): Promise<void> {
  await waitFor(async () => (await readyz(port)).status === 200, timeoutMs, what);
}
