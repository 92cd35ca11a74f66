/**
 * A small Prometheus registry: counters, gauges and histograms with labels, rendered in the
 * text exposition format. Roles get the daemon's registry through their context.
 * @module
 */
import { redact } from "../platform/redact.ts";

/** Label names to values. */
export type Labels = Record<string, string | number>;

type Kind = "counter" | "gauge" | "histogram";

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
}

/** A gauge: set to the current value. */
export interface Gauge {
  /** Sets the value. */
  set(value: number, labels?: Labels): void;
  /** Adds `n` (negative to subtract). */
  add(n: number, labels?: Labels): void;
  /** The current value for `labels`. */
  get(labels?: Labels): number;
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

function key(labels: Labels = {}): string {
  return Object.keys(labels).sort().map((k) => `${k}=${labels[k]}`).join(",");
}

function escapeLabel(v: string | number): string {
  return String(v).replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function renderLabels(labels: Labels, extra?: [string, string]): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
  if (extra) parts.push(`${extra[0]}="${extra[1]}"`);
  return parts.length ? `{${parts.join(",")}}` : "";
}

/** A set of metric families; names are prefixed `jetport_`. */
export class Registry {
  #families = new Map<string, Family>();

  #family(name: string, help: string, kind: Kind, buckets?: number[]): Family {
    const full = name.startsWith("jetport_") ? name : `jetport_${name}`;
    let f = this.#families.get(full);
    if (!f) {
      f = { name: full, help, kind, buckets, series: new Map() };
      this.#families.set(full, f);
    } else if (f.kind !== kind) {
      throw new Error(`metric ${full} is already registered as a ${f.kind}`);
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
  counter(name: string, help: string): Counter {
    const f = this.#family(name, help, "counter");
    return {
      inc: (labels, n = 1) => {
        this.#series(f, labels).value += n;
      },
      get: (labels) => f.series.get(key(labels))?.value ?? 0,
    };
  }

  /** Returns the gauge `name`, creating it on first use. */
  gauge(name: string, help: string): Gauge {
    const f = this.#family(name, help, "gauge");
    return {
      set: (value, labels) => {
        this.#series(f, labels).value = value;
      },
      add: (n, labels) => {
        this.#series(f, labels).value += n;
      },
      get: (labels) => f.series.get(key(labels))?.value ?? 0,
    };
  }

  /** Returns the histogram `name`, creating it on first use. */
  histogram(name: string, help: string, buckets = DEFAULT_BUCKETS): Histogram {
    const f = this.#family(name, help, "histogram", buckets);
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
      out.push(`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.kind}`);
      for (const s of f.series.values()) {
        if (f.kind !== "histogram") {
          out.push(`${f.name}${renderLabels(s.labels)} ${s.value}`);
          continue;
        }
        f.buckets!.forEach((b, i) => {
          out.push(`${f.name}_bucket${renderLabels(s.labels, ["le", String(b)])} ${s.counts![i]}`);
        });
        out.push(`${f.name}_bucket${renderLabels(s.labels, ["le", "+Inf"])} ${s.value}`);
        out.push(`${f.name}_sum${renderLabels(s.labels)} ${s.sum}`);
        out.push(`${f.name}_count${renderLabels(s.labels)} ${s.value}`);
      }
    }
    return redact(out.join("\n") + "\n");
  }
}
