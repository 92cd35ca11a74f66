/**
 * The standard `process_*` metrics every Prometheus dashboard expects (the names client
 * libraries export): resident memory, start time, CPU seconds and, where readable, open and
 * maximum file descriptors and virtual memory.
 *
 * On Linux they come from `/proc/self`, as the Go and Python clients read them, but only when
 * Deno may read it: since Deno 1.43 `/proc` needs `--allow-all`, which the daemon does not
 * have. Without it (and on other OSes) they come from what Deno offers without a permission:
 * `process.memoryUsage.rss()`, `process.cpuUsage()` (getrusage) and the runtime's time origin;
 * the file descriptor counts are then left out rather than guessed.
 * @module
 */
import process from "node:process";
import { familyHeader, type Kind, sampleLine } from "./metrics.ts";

/** Clock ticks per second of `/proc` times (USER_HZ, 100 on every Linux architecture in use). */
const TICKS_PER_SECOND = 100;

/** One process metric: name, help, type and value. */
export interface ProcessSample {
  name: string;
  help: string;
  kind: Kind;
  value: number;
}

/** Type and help of each process metric, worded as the Go and Python clients word them. */
const METRICS = {
  process_cpu_seconds_total: ["counter", "Total user and system CPU time spent in seconds."],
  process_resident_memory_bytes: ["gauge", "Resident memory size in bytes."],
  process_start_time_seconds: ["gauge", "Start time of the process since unix epoch in seconds."],
  process_virtual_memory_bytes: ["gauge", "Virtual memory size in bytes."],
  process_open_fds: ["gauge", "Number of open file descriptors."],
  process_max_fds: ["gauge", "Maximum number of open file descriptors."],
} as const satisfies Record<string, readonly [Kind, string]>;

function sample(name: keyof typeof METRICS, value: number): ProcessSample {
  const [kind, help] = METRICS[name];
  return { name, help, kind, value };
}

/** The process metrics, in the text format. */
export async function renderProcessMetrics(): Promise<string> {
  const samples = await readProcessSamples();
  return samples.flatMap((s) => [
    ...familyHeader(s.name, s.help, s.kind),
    sampleLine(s.name, {}, s.value),
  ]).join("\n") + "\n";
}

/** The current samples: from /proc on Linux, from the runtime elsewhere. */
export async function readProcessSamples(): Promise<ProcessSample[]> {
  if (Deno.build.os === "linux") {
    try {
      return await fromProc();
    } catch { /* /proc not readable without --allow-all (or not mounted): the runtime below */ }
  }
  const cpu = process.cpuUsage();
  return [
    sample("process_cpu_seconds_total", (cpu.user + cpu.system) / 1e6),
    sample("process_resident_memory_bytes", process.memoryUsage.rss()),
    sample("process_start_time_seconds", performance.timeOrigin / 1000),
  ];
}

/** Reads /proc/self/{stat,status,fd,limits} and /proc/stat (boot time). */
async function fromProc(): Promise<ProcessSample[]> {
  const [stat, status, limits, system] = await Promise.all([
    Deno.readTextFile("/proc/self/stat"),
    Deno.readTextFile("/proc/self/status"),
    Deno.readTextFile("/proc/self/limits"),
    Deno.readTextFile("/proc/stat"),
  ]);
  // The command name (field 2) may hold spaces and parentheses: fields are counted after it.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const field = (n: number) => Number(fields[n - 3]);
  const bootTime = Number(/^btime (\d+)$/m.exec(system)?.[1]);
  const rssKb = Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1]);
  let openFds = 0;
  for await (const _ of Deno.readDir("/proc/self/fd")) openFds++;
  const maxFds = /^Max open files\s+(\d+|unlimited)/m.exec(limits)?.[1];
  return [
    sample("process_cpu_seconds_total", (field(14) + field(15)) / TICKS_PER_SECOND),
    sample("process_resident_memory_bytes", rssKb * 1024),
    sample("process_start_time_seconds", bootTime + field(22) / TICKS_PER_SECOND),
    sample("process_virtual_memory_bytes", field(23)),
    sample("process_open_fds", openFds),
    sample(
      "process_max_fds",
      maxFds === undefined || maxFds === "unlimited" ? Infinity : Number(maxFds),
    ),
  ];
}
