/**
 * Start-up and idle: `jetport run` with only the watcher on an empty directory, from spawning
 * the process to `/readyz` answering 200, and its resident memory once idle. The baseline is Deno
 * itself running an empty program (start to exit, and the RSS of one that only waits), so the
 * figures say what jetport adds to the runtime. Each figure is the median of `RUNS` runs: one
 * start on a loaded machine says little.
 * @module
 */
import type { Bench, BenchTable } from "./run.ts";
import { startNatsServer } from "../helpers/nats_server.ts";
import { startWatcherDaemon } from "./watcher_daemon.ts";

const RUNS = Number(Deno.env.get("BENCH_STARTUP_RUNS") ?? 5);
/** How long the daemon idles after its first 200 before its RSS is read. */
const IDLE_MS = Number(Deno.env.get("BENCH_IDLE_MS") ?? 5000);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const MiB = 1024 * 1024;

/** Resident set size of process `pid` in bytes (Linux /proc). */
async function rss(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const kb = /^VmRSS:\s+(\d+) kB/m.exec(status);
  if (!kb) throw new Error(`no VmRSS for ${pid}`);
  return Number(kb[1]) * 1024;
}

/** One `jetport run`: ms from spawn to the first `/readyz` 200, and RSS after idling. */
async function daemonRun(natsUrl: string, dir: string): Promise<{ ms: number; rss: number }> {
  const watched = await Deno.makeTempDir({ dir, prefix: "empty-" });
  await using daemon = await startWatcherDaemon(natsUrl, watched, "empty");
  await new Promise((r) => setTimeout(r, IDLE_MS));
  return { ms: daemon.readyMs, rss: await rss(daemon.child.pid) };
}

/** Deno running an empty program: ms from spawn to exit, and RSS of one that only waits. */
async function denoAlone(dir: string): Promise<{ ms: number; rss: number }> {
  const empty = `${dir}/empty.ts`;
  const waits = `${dir}/waits.ts`;
  await Deno.writeTextFile(empty, "");
  await Deno.writeTextFile(waits, "setTimeout(() => {}, 3_600_000);\n");
  const t0 = performance.now();
  await new Deno.Command(Deno.execPath(), { args: ["run", empty] }).output();
  const ms = performance.now() - t0;
  const child = new Deno.Command(Deno.execPath(), { args: ["run", waits] }).spawn();
  try {
    await new Promise((r) => setTimeout(r, IDLE_MS));
    return { ms, rss: await rss(child.pid) };
  } finally {
    child.kill("SIGTERM");
    await child.status;
  }
}

const bench: Bench = {
  name: "startup",
  async run(): Promise<BenchTable[]> {
    await using nats = await startNatsServer();
    const dir = await Deno.makeTempDir({ prefix: "jetport-bench-startup-" });
    try {
      const runs = [];
      const alone = [];
      for (let i = 0; i < RUNS; i++) {
        runs.push(await daemonRun(nats.url, dir));
        alone.push(await denoAlone(dir));
      }
      const readyMs = median(runs.map((r) => r.ms));
      const idle = median(runs.map((r) => r.rss)) / MiB;
      return [{
        title: `jetport run, watcher only on an empty directory (median of ${RUNS})`,
        columns: ["what", "unit", "jetport", "Deno alone", "jetport - Deno"],
        rows: [
          [
            "spawn → /readyz 200 (Deno alone: an empty program, spawn → exit)",
            "ms",
            Math.round(readyMs),
            Math.round(median(alone.map((r) => r.ms))),
            Math.round(readyMs - median(alone.map((r) => r.ms))),
          ],
          [
            `idle RSS ${IDLE_MS / 1000} s after ready (Deno alone: a program that only waits)`,
            "MiB",
            Math.round(idle),
            Math.round(median(alone.map((r) => r.rss)) / MiB),
            Math.round(idle - median(alone.map((r) => r.rss)) / MiB),
          ],
        ],
        notes: [
          "`deno run` of main.ts with the jetport task's permissions, as the tests run it:",
          "module loading included (deno run does not type-check).",
        ],
      }];
    } finally {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
};
export default bench;
