/**
 * Watcher burst: 100k files created as fast as possible (flat, then across 100 new
 * subdirectories), each into a fresh watch. Measures the time from the last write to the last
 * event stored, events lost (target 0), duplicate `created` (target 0), and memory with the files
 * under watch. Each layout runs in its own process (this module, run with the layout as its
 * argument), so one layout's heap does not inflate the other's RSS; the baseline is the same
 * process, connected, before the watcher starts. Then the operator's view of memory: a `jetport run`
 * daemon watching a root into which this process writes the files, its RSS idle, at the end, at its
 * peak and 20 s later (the steady state: V8 gives the burst's heap back only after its
 * memory reducer runs, some seconds after the allocation stops).
 * @module
 */
import { jetstreamManager } from "@nats-io/jetstream";
import { startNatsServer } from "../helpers/nats_server.ts";
import { PERMISSIONS } from "../helpers/jetport.ts";
import { startWatcherDaemon } from "./watcher_daemon.ts";
import {
  client,
  createdCounts,
  createFilesStream,
  readEvents,
  startWatcher,
  tempDir,
} from "../roles/watcher/helpers.ts";
import type { Bench, BenchTable } from "./run.ts";

const FILES = Number(Deno.env.get("BENCH_BURST_FILES") ?? 100_000);
const TIMEOUT = 600_000;

type Layout = "flat" | "100 new subdirs";
const LAYOUTS: Layout[] = ["flat", "100 new subdirs"];

const MiB = 1024 * 1024;

/** Writes the files: all in the root, or spread over 100 new subdirectories. */
function writeFiles(root: string, layout: Layout): void {
  for (let i = 0; i < FILES; i++) {
    const dir = layout === "flat" ? root : `${root}/d${i % 100}`;
    if (layout !== "flat" && i < 100) Deno.mkdirSync(dir);
    Deno.writeTextFileSync(`${dir}/f${i}.txt`, `${i}`);
  }
}

/** A field of `/proc/<pid>/status` in bytes (VmRSS, VmHWM); 0 where /proc is missing. */
function statusBytes(field: "VmRSS" | "VmHWM", pid: number | "self" = "self"): number {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) * 1024;
  } catch {
    return 0;
  }
}

/** Peak RSS of this process so far (VmHWM), in bytes. */
const peakRss = () => statusBytes("VmHWM");

/** How long after the last event is stored the daemon's steady RSS is read (the 20 s). */
const STEADY_MS = 20_000;

/** RSS of a `jetport run` daemon around a burst written by another process, in bytes. */
interface DaemonMemory {
  /** Ready and idle, the root empty. */
  idle: number;
  /** When the last event was stored. */
  stored: number;
  /** Highest RSS of the daemon's whole run (VmHWM). */
  peak: number;
  /** {@link STEADY_MS} after the last event was stored. */
  steady: number;
}

/**
 * The operator's view of memory: `jetport run` with only the watcher, as deployed (the daemon's
 * V8 flags, its own process), while this process writes `FILES` files into its root; the RSS
 * idle before, when the last event is stored, at its peak, and {@link STEADY_MS} later.
 */
async function daemonMemory(url: string): Promise<DaemonMemory> {
  const nc = await client(url);
  const jsm = await jetstreamManager(nc);
  await createFilesStream(nc);
  const root = await tempDir("bench-daemon");
  const daemon = await startWatcherDaemon(url, root, "bench", "250ms");
  const child = daemon.child;
  try {
    await new Promise((r) => setTimeout(r, 2000));
    const idle = statusBytes("VmRSS", child.pid);
    writeFiles(root, "flat");
    for (const end = Date.now() + TIMEOUT;;) {
      const { state } = await jsm.streams.info("FILES");
      if (state.messages >= FILES) break;
      if (Date.now() > end) throw new Error(`${FILES} events not stored in ${TIMEOUT} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const stored = statusBytes("VmRSS", child.pid);
    await new Promise((r) => setTimeout(r, STEADY_MS));
    const steady = statusBytes("VmRSS", child.pid);
    return { idle, stored, peak: statusBytes("VmHWM", child.pid), steady };
  } finally {
    await daemon[Symbol.asyncDispose]();
    await jsm.streams.delete("FILES");
    await nc.close();
    await Deno.remove(root, { recursive: true });
  }
}

interface BurstResult {
  layout: Layout;
  writeS: number;
  settleS: number;
  lost: number;
  dups: number;
  /** RSS before the watcher started (same process, NATS connected). */
  baseMiB: number;
  /** RSS once every event is stored, the files under watch. */
  rssMiB: number;
  /** Highest RSS during the run. */
  peakMiB: number;
  /** V8 heap in use at that point (garbage included). */
  heapMiB: number;
  /** V8 heap still in use after a full GC then: what the watcher really retains. */
  liveMiB: number;
}

async function burst(url: string, layout: Layout): Promise<BurstResult> {
  const nc = await client(url);
  const jsm = await jetstreamManager(nc);
  await jsm.streams.delete("FILES").catch(() => {});
  await createFilesStream(nc);
  const root = await tempDir("bench");
  const base = Deno.memoryUsage().rss;
  const watcher = await startWatcher(url, await tempDir("bench-state"), {
    watches: [{ name: "bench", path: root, settle: "250ms" }],
  });
  const t0 = performance.now();
  writeFiles(root, layout);
  const lastWrite = performance.now();
  // The end is when the stream stored the last event (its last_ts, the same machine's clock):
  // not when this loop sees it, which a poll interval and the watcher's own work (a snapshot
  // save once the outbox is empty) on this thread would add to.
  const lastWriteAt = Date.now();
  let storedAt = NaN;
  const until = lastWriteAt + TIMEOUT;
  while (Date.now() < until) {
    const { state } = await jsm.streams.info("FILES");
    if (state.messages >= FILES) {
      storedAt = Date.parse(state.last_ts);
      break;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const mem = Deno.memoryUsage();
  const peak = peakRss();
  (globalThis as { gc?: () => void }).gc?.();
  const live = Deno.memoryUsage().heapUsed;
  const counts = createdCounts(await readEvents(nc));
  await watcher.stop();
  await nc.close();
  await Deno.remove(root, { recursive: true });
  return {
    layout,
    writeS: (lastWrite - t0) / 1000,
    settleS: (storedAt - lastWriteAt) / 1000,
    lost: FILES - counts.size,
    dups: [...counts.values()].filter((n) => n > 1).length,
    baseMiB: base / MiB,
    rssMiB: mem.rss / MiB,
    peakMiB: peak / MiB,
    heapMiB: mem.heapUsed / MiB,
    liveMiB: live / MiB,
  };
}

/** The daemon's V8 flags (the watcher runs in the bench's child process, tuned the same way). */
const v8Flags = PERMISSIONS.find((f) => f.startsWith("--v8-flags="))!.slice("--v8-flags=".length);

/** Runs one layout in a fresh process (this module) and returns its result. */
async function burstInChild(layout: Layout): Promise<BurstResult> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      `--v8-flags=${v8Flags},--expose-gc`,
      new URL(import.meta.url).pathname,
      layout,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  const line = text.split("\n").find((l) => l.startsWith("{"));
  if (!out.success || !line) throw new Error(`burst ${layout} failed (exit ${out.code})`);
  return JSON.parse(line);
}

const bench: Bench = {
  name: "burst",
  async run() {
    const rows = [];
    for (const layout of LAYOUTS) {
      const r = await burstInChild(layout);
      rows.push([
        r.layout,
        r.writeS,
        r.settleS,
        r.lost,
        r.dups,
        r.baseMiB,
        r.rssMiB,
        r.peakMiB,
        r.heapMiB,
        r.liveMiB,
        (r.rssMiB / r.baseMiB).toFixed(2),
      ]);
    }
    return [{
      title: `watcher burst: ${FILES} files written as fast as possible, settle 250ms`,
      columns: [
        "layout",
        "write s",
        "last write → last event stored s",
        "lost",
        "duplicate created",
        "RSS MiB before watcher (baseline)",
        "RSS MiB, 100k under watch",
        "peak RSS MiB",
        "V8 heap used MiB",
        "V8 heap live after GC MiB",
        "RSS / baseline",
      ],
      rows,
      notes: [
        "targets: lost 0, duplicate created 0. The writer runs in the same process as the " +
        "watcher (worst case: Deno drops events while the writer blocks the event loop).",
        "Memory: whole bench process (watcher, NATS client, writer), one fresh process per " +
        "layout; 'under watch' is read once every event is stored.",
      ],
    }, await daemonTable()];
  },
};

/** The daemon's memory around a flat burst, as a table with its goals. */
async function daemonTable(): Promise<BenchTable> {
  await using server = await startNatsServer();
  const m = await daemonMemory(server.url);
  const mib = (b: number) => Math.round(b / MiB * 10) / 10;
  return {
    title: `jetport run, watcher only: RSS around ${FILES} files written flat by another process`,
    columns: ["idle, root empty", "last event stored", "peak", `${STEADY_MS / 1000} s later`],
    rows: [[mib(m.idle), mib(m.stored), mib(m.peak), mib(m.steady)]],
    notes: [
      "MiB, the daemon's process alone (VmRSS; peak: VmHWM). Goals: peak ≤ 250, " +
      `${STEADY_MS / 1000} s after the last event stored ≤ 150.`,
    ],
  };
}
export default bench;

if (import.meta.main) {
  const layout = Deno.args[0] as Layout;
  if (!LAYOUTS.includes(layout)) throw new Error(`usage: burst_bench.ts ${LAYOUTS.join(" | ")}`);
  await using server = await startNatsServer();
  console.log(JSON.stringify(await burst(server.url, layout)));
}
