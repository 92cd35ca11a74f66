/**
 * Runs the benchmarks and prints one table each: `deno task bench [name-filter...]`.
 * A bench is a module whose default export is a {@link Bench}; add yours to {@link BENCHES}.
 * Each bench measures its own baseline in the same run, so the ratios mean something on any
 * machine; `versus-go` puts every headline jetport figure beside a Go-client program doing the
 * same work (`tests/bench/go/`), as a ratio.
 * @module
 */

/** A result table: a header row and rows of cells. */
export interface BenchTable {
  /** What was measured, shown above the table. */
  title: string;
  /** Column names. */
  columns: string[];
  /** Rows of cells (numbers are formatted with thousands separators). */
  rows: (string | number)[][];
  /** Optional lines printed under the table (targets, conditions). */
  notes?: string[];
}

/** One benchmark. */
export interface Bench {
  /** Short name, used to filter on the command line. */
  name: string;
  /** Runs the benchmark; returns one or more tables. */
  run(): Promise<BenchTable[]>;
}

/** Every benchmark, in run order: one line each. */
export const BENCHES: (() => Promise<{ default: Bench }>)[] = [
  () => import("./publisher_bench.ts"),
  () => import("./burst_bench.ts"),
  () => import("./latency_bench.ts"),
  () => import("./cluster_bench.ts"),
  () => import("./upload_bench.ts"),
  () => import("./go/versus_bench.ts"),
  () => import("./startup_bench.ts"),
];

function cell(v: string | number): string {
  if (typeof v === "string") return v;
  if (Number.isInteger(v)) return v.toLocaleString("en-US");
  return v.toLocaleString("en-US", { maximumFractionDigits: 2 });
}

/** Renders a table as aligned text. */
export function renderTable(t: BenchTable): string {
  const rows = [t.columns, ...t.rows.map((r) => r.map(cell))];
  const widths = t.columns.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  const line = (r: string[]) =>
    "| " + r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(" | ") +
    " |";
  const sep = "|" + widths.map((w) => "-".repeat(w + 2)).join("|") + "|";
  return [
    `### ${t.title}`,
    "",
    line(rows[0]),
    sep,
    ...rows.slice(1).map(line),
    "",
    ...(t.notes ?? []),
  ]
    .join("\n");
}

if (import.meta.main) {
  const filters = Deno.args;
  let failed = 0;
  for (const load of BENCHES) {
    const bench = (await load()).default;
    if (filters.length && !filters.some((f) => bench.name.includes(f))) continue;
    console.log(`\n## ${bench.name}\n`);
    try {
      for (const table of await bench.run()) console.log(renderTable(table) + "\n");
    } catch (err) {
      failed++;
      console.error(`bench ${bench.name} failed: ${(err as Error).stack ?? err}`);
    }
  }
  Deno.exit(failed ? 1 : 0);
}
