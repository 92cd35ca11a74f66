/**
 * CPU time of another process, for benchmarks that say where the CPU of a piece of work went
 * (jetport, s3rver, nats-server, a Go program). Linux only: read from `/proc/<pid>/stat`.
 * @module
 */

/** Clock ticks per second of `/proc`'s times (`getconf CLK_TCK`: 100 on Linux). */
const TICKS_PER_SECOND = 100;

/** CPU time (user + system, ms) process `pid` has used so far; NaN when it cannot be read. */
export function processCpuMs(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) * 1000 / TICKS_PER_SECOND;
  } catch {
    return NaN;
  }
}
