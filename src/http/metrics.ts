/**
 * A small Prometheus registry: counters, gauges and histograms with labels, rendered in the
 * text exposition format (HELP and label values escaped, `+Inf`/`-Inf`/`NaN` spelled as
 * Prometheus reads them). Roles get the daemon's registry through their context.
 *
 * A family may declare its known label values ({@linkcode MetricOptions}): every combination is
 * exported at 0 from the start, because `rate()`/`increase()` and alerts cannot see the first
 * event of a series that appears only when it happens.
 * @module
 */
import { redact } from "../platform/redact.ts";

/** Label names to values. */
export type Labels = Record<string, string | number>;

/** A metric type of the text format. */
export type Kind = "counter" | "gauge" | "histogram";

/** What a family may declare when it is created. */
export interface MetricOptions {
  /**
   * Known values of each label: every combination is a series at 0 from the start. An empty
   * object declares the one series without labels.
   */
  labels?: Record<string, readonly (string | number)[]>;
}

interface Family {
  name: string;
  help: string;
  kind: Kind;
  buckets?: number[];
  series: Map<string, { labels: Labels; value: number; counts?: number[]; sum?: number }>;
}

/** A counter: only goes up. */
export interface Counter {
  /** Adds `n` (default 1). */
  inc(labels?: Labels, n?: number): void;
  /** The current value for `labels`. */
  get(labels?: Labels): number;
  /**
   * The series of `labels`, looked up once: for a call per message, where building the series
   * key from the labels cost more than the rest of the count.
   */
  bind(labels?: Labels): BoundCounter;
}

/** One series of a counter. */
export interface BoundCounter {
  /** Adds `n` (default 1). */
  inc(n?: number): void;
}

/** A gauge: set to the current value. */
export interface Gauge {
  /** Sets the value. */
  set(value: number, labels?: Labels): void;
  /** Adds `n` (negative to subtract). */
  add(n: number, labels?: Labels): void;
  /** The current value for `labels`. */
  get(labels?: Labels): number;
  /** The series of `labels`, looked up once (see {@link Counter.bind}). */
  bind(labels?: Labels): BoundGauge;
}

/** One series of a gauge. */
export interface BoundGauge {
  /** Sets the value. */
  set(value: number): void;
}

/** A histogram of observed values (seconds, bytes, ...). */
export interface Histogram {
  /** Records one observation. */
  observe(value: number, labels?: Labels): void;
  /** Number of observations for `labels`. */
  count(labels?: Labels): number;
}

/** Default histogram buckets, in seconds. */
const DEFAULT_BUCKETS = [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

/** The series key of `labels` (names sorted). Called per increment: kept free of arrays. */
function key(labels?: Labels): string {
  if (labels === undefined) return "";
  const names = Object.keys(labels);
  if (names.length > 1) names.sort();
  let k = "";
  for (const name of names) k += (k === "" ? "" : ",") + name + "=" + labels[name];
  return k;
}

/** A label value escaped for the text format: backslash, double quote and newline. */
export function escapeLabelValue(v: string | number): string {
  return String(v).replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

/** HELP text escaped for the text format: backslash and newline (quotes stay as they are). */
export function escapeHelp(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

/** A sample value as the text format spells it: `+Inf`, `-Inf`, `NaN` or the number. */
export function formatValue(v: number): string {
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return Number.isNaN(v) ? "NaN" : String(v);
}

function renderLabels(labels: Labels, extra?: [string, string]): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabelValue(v)}"`);
  if (extra) parts.push(`${extra[0]}="${escapeLabelValue(extra[1])}"`);
  return parts.length ? `{${parts.join(",")}}` : "";
}

/** The `# HELP` and `# TYPE` lines of a family. */
export function familyHeader(name: string, help: string, kind: Kind): string[] {
  return [`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${kind}`];
}

/** One sample line: `name{labels} value`. */
export function sampleLine(name: string, labels: Labels, value: number): string {
  return `${name}${renderLabels(labels)} ${formatValue(value)}`;
}

/** Every combination of the known label values (one empty set for `{}`). */
function combinations(known: Record<string, readonly (string | number)[]>): Labels[] {
  let out: Labels[] = [{}];
  for (const [name, values] of Object.entries(known)) {
    out = out.flatMap((l) => values.map((v) => ({ ...l, [name]: v })));
  }
  return out;
}

/** A set of metric families; names are prefixed `jetport_`. */
export class Registry {
  #families = new Map<string, Family>();

  #family(
    name: string,
    help: string,
    kind: Kind,
    options: MetricOptions = {},
    buckets?: number[],
  ): Family {
    const full = name.startsWith("jetport_") ? name : `jetport_${name}`;
    let f = this.#families.get(full);
    if (!f) {
      // +Inf is always the last bucket; a declared one would be a duplicate series.
      const finite = buckets?.filter((b) => Number.isFinite(b)).sort((a, b) => a - b);
      f = { name: full, help, kind, buckets: finite, series: new Map() };
      this.#families.set(full, f);
    } else if (f.kind !== kind) {
      throw new Error(`metric ${full} is already registered as a ${f.kind}`);
    }
    if (options.labels) {
      for (const labels of combinations(options.labels)) {
        this.#series(f, labels);
      }
    }
    return f;
  }

  #series(f: Family, labels: Labels = {}) {
    const k = key(labels);
    let s = f.series.get(k);
    if (!s) {
      s = { labels, value: 0 };
      if (f.buckets) {
        s.counts = f.buckets.map(() => 0);
        s.sum = 0;
      }
      f.series.set(k, s);
    }
    return s;
  }

  /** Returns the counter `name`, creating it on first use. */
  counter(name: string, help: string, options?: MetricOptions): Counter {
    const f = this.#family(name, help, "counter", options);
    return {
      inc: (labels, n = 1) => {
        this.#series(f, labels).value += n;
      },
      get: (labels) => f.series.get(key(labels))?.value ?? 0,
      bind: (labels) => {
        const s = this.#series(f, labels);
        return {
          inc: (n = 1) => {
            s.value += n;
          },
        };
      },
    };
  }

  /** Returns the gauge `name`, creating it on first use. */
  gauge(name: string, help: string, options?: MetricOptions): Gauge {
    const f = this.#family(name, help, "gauge", options);
    return {
      set: (value, labels) => {
        this.#series(f, labels).value = value;
      },
      add: (n, labels) => {
        this.#series(f, labels).value += n;
      },
      get: (labels) => f.series.get(key(labels))?.value ?? 0,
      bind: (labels) => {
        const s = this.#series(f, labels);
        return {
          set: (value) => {
            s.value = value;
          },
        };
      },
    };
  }

  /**
   * Returns the histogram `name` (buckets: upper bounds, `+Inf` added), creating it on first use.
   */
  histogram(
    name: string,
    help: string,
    buckets: readonly number[] = DEFAULT_BUCKETS,
    options?: MetricOptions,
  ): Histogram {
    const f = this.#family(name, help, "histogram", options, [...buckets]);
    return {
      observe: (value, labels) => {
        const s = this.#series(f, labels);
        s.value += 1;
        s.sum! += value;
        f.buckets!.forEach((b, i) => {
          if (value <= b) s.counts![i] += 1;
        });
      },
      count: (labels) => f.series.get(key(labels))?.value ?? 0,
    };
  }

  /** The whole registry in Prometheus text format. */
  render(): string {
    const out: string[] = [];
    for (const f of this.#families.values()) {
      out.push(...familyHeader(f.name, f.help, f.kind));
      for (const s of f.series.values()) {
        if (f.kind !== "histogram") {
          out.push(sampleLine(f.name, s.labels, s.value));
          continue;
        }
        f.buckets!.forEach((b, i) => {
          out.push(
            `${f.name}_bucket${renderLabels(s.labels, ["le", formatValue(b)])} ${s.counts![i]}`,
          );
        });
        out.push(`${f.name}_bucket${renderLabels(s.labels, ["le", "+Inf"])} ${s.value}`);
        out.push(sampleLine(`${f.name}_sum`, s.labels, s.sum!));
        out.push(sampleLine(`${f.name}_count`, s.labels, s.value));
      }
    }
    return redact(out.join("\n") + "\n");
  }
}
