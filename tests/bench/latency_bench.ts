/**
 * End-to-end latency: a file is closed in a watched directory → its line is in the monitor's log,
 * through `jetport run` (watcher + monitor in one daemon), at a steady 200 files/s, with
 * `settle: 0` and with the default settle. Baseline, same run: an event published straight to
 * FILES → its line (the monitor's share of the path).
 * @module
 */
import { AckPolicy, jetstream } from "@nats-io/jetstream";
import { startNatsServer } from "../helpers/nats_server.ts";
import { startDaemon } from "../helpers/jetport.ts";
import { writeConfig } from "../helpers/config.ts";
import { freePort } from "../helpers/nats_server.ts";
import { client, createFilesStream, fileEvent } from "../roles/monitor/helpers.ts";
import type { Bench } from "./run.ts";

const FILES = Number(Deno.env.get("BENCH_LATENCY_FILES") ?? 1000);
const RATE = 200; // files per second

interface Scenario {
  name: string;
  /** Watcher settle, or undefined for the baseline (no watcher: the bench publishes). */
  settle?: string;
}

interface Result {
  latencies: number[];
  /** Files whose first line was written before the file was closed (announced half-written). */
  early: number;
  missing: number;
  /** Events in FILES at the end. */
  stored: number;
  /** Lines in the log at the end. */
  lines: number;
}

/** Follows the monitor's log, recording when the first line for each file index appears. */
function tail(path: string, onLine: (index: number, at: number) => void): () => void {
  let stop = false;
  (async () => {
    let offset = 0;
    let rest = "";
    const buf = new Uint8Array(1 << 16);
    const dec = new TextDecoder();
    while (!stop) {
      const file = await Deno.open(path).catch(() => undefined);
      if (file) {
        await file.seek(offset, Deno.SeekMode.Start);
        let n: number | null;
        while ((n = await file.read(buf)) !== null && n > 0) {
          offset += n;
          const at = performance.now();
          const lines = (rest + dec.decode(buf.subarray(0, n), { stream: true })).split("\n");
          rest = lines.pop()!;
          for (const l of lines) {
            const m = /\/lat-(\d+)\.txt,/.exec(l);
            if (m) onLine(Number(m[1]), at);
          }
        }
        file.close();
      }
      await new Promise((r) => setTimeout(r, 1));
    }
  })();
  return () => (stop = true);
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function runScenario(s: Scenario): Promise<Result> {
  await using server = await startNatsServer();
  await using c = await client(server.url);
  await createFilesStream(c.jsm);
  const dir = await Deno.makeTempDir({ prefix: "jetport-latency-" });
  await Deno.mkdir(`${dir}/test/storage`, { recursive: true });
  const watcher = s.settle === undefined ? "" : `
  watcher:
    watches:
      - { name: storage, path: ./test/storage, settle: ${s.settle}, stream: FILES, subject: file.events }`;
  const config = await writeConfig(`
nats: { servers: "${server.url}" }
http: { listen: "127.0.0.1:${freePort()}" }
log: { level: warning }
state_dir: ./data/state
roles:
  monitor:
    output: { path: ./test/monitor/storage_monitor.log }${watcher}
`);
  // Consumer created up front, so the daemon is ready when its first line could be written.
  await c.jsm.consumers.add("FILES", {
    durable_name: "file-monitor",
    ack_policy: AckPolicy.Explicit,
  });
  await using daemon = startDaemon(config, {}, dir);
  if (s.settle !== undefined) {
    // The watcher's initial scan of an empty root publishes nothing; give it time to settle in.
    await new Promise((r) => setTimeout(r, 2000));
  } else await new Promise((r) => setTimeout(r, 1000));

  const closedAt = new Array<number>(FILES);
  const firstLine = new Array<number | undefined>(FILES).fill(undefined);
  let early = 0;
  const stopTail = tail(`${dir}/test/monitor/storage_monitor.log`, (i, at) => {
    if (firstLine[i] !== undefined) return;
    if (closedAt[i] === undefined || at < closedAt[i]) {
      early++;
      return;
    }
    firstLine[i] = at;
  });
  const js = jetstream(c.nc);
  const payload = "x".repeat(100);
  const t0 = performance.now();
  for (let i = 0; i < FILES; i++) {
    const due = t0 + (i * 1000) / RATE;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    if (s.settle === undefined) {
      closedAt[i] = performance.now();
      js.publish("file.events", JSON.stringify(fileEvent("added", `lat-${i}.txt`, 100)));
    } else {
      await Deno.writeTextFile(`${dir}/test/storage/lat-${i}.txt`, payload);
      closedAt[i] = performance.now();
    }
  }
  const until = performance.now() + 30_000;
  while (firstLine.some((v) => v === undefined) && performance.now() < until) {
    await new Promise((r) => setTimeout(r, 50));
  }
  stopTail();
  // Where a missing line was lost: never stored (watcher) or stored but not written (monitor).
  const stored = (await c.jsm.streams.info("FILES")).state.messages;
  const lines = (await Deno.readTextFile(`${dir}/test/monitor/storage_monitor.log`)
    .catch(() => "")).split("\n").length - 1;
  daemon.signal("SIGTERM");
  await daemon.exit();
  await Deno.remove(dir, { recursive: true }).catch(() => {});
  const latencies = firstLine.flatMap((at, i) => (at === undefined ? [] : [at - closedAt[i]]));
  return { latencies, early, missing: FILES - latencies.length, stored, lines };
}

const bench: Bench = {
  name: "latency",
  async run() {
    const scenarios: Scenario[] = [
      { name: "baseline: publish → line (monitor only)" },
      { name: "file closed → line, settle 0", settle: "0ms" },
      { name: "file closed → line, settle 250ms (default)", settle: "250ms" },
    ];
    const rows: (string | number)[][] = [];
    let baseP50 = NaN;
    for (const s of scenarios) {
      const r = await runScenario(s);
      const sorted = r.latencies.sort((a, b) => a - b);
      const p50 = percentile(sorted, 50);
      const p99 = percentile(sorted, 99);
      if (s.settle === undefined) baseP50 = p50;
      rows.push([
        s.name,
        FILES,
        r.stored,
        r.lines,
        r.missing,
        r.early,
        Math.round(p50 * 10) / 10,
        Math.round(p99 * 10) / 10,
        Math.round(percentile(sorted, 100) * 10) / 10,
        s.settle === undefined ? "1.00" : (p50 / baseP50).toFixed(2),
      ]);
    }
    return [{
      title: `file → monitor line latency at ${RATE} files/s (ms)`,
      columns: [
        "path",
        "files",
        "events stored",
        "lines",
        "missing",
        "early",
        "p50",
        "p99",
        "max",
        "p50 / baseline",
      ],
      rows,
      notes: [
        "One daemon (watcher + monitor, output.fsync: true) against a local nats-server.",
        "Latency: file closed (or event published, baseline) → its first line read back from the " +
        "log file (polled every 1 ms).",
        "early: files whose line appeared before the bench had closed them (a half-written file " +
        "announced; expected only with settle 0). missing: files with no line within 30 s of the " +
        "last write; events stored = lines means the monitor wrote every event it was given.",
      ],
    }];
  },
};

export default bench;
