/**
 * Progress for long CLI operations (publish, replay, redrive, apply): a redrawn bar on stderr
 * when stderr is a terminal, otherwise one plain line every few seconds, so logs captured by
 * systemd or CI stay readable. stdout is never touched: it may carry the command's data.
 * @module
 */

/** A running progress display. */
export interface Progress {
  /** Counts `n` more items done (default 1). */
  tick(n?: number): void;
  /** Sets the total once it becomes known (or changes). */
  setTotal(total: number | undefined): void;
  /** Ends the display: clears the bar (TTY) so a summary line can follow. Idempotent. */
  done(): void;
}

/** Options for {@link startProgress}. */
export interface ProgressOptions {
  /** What is being counted, e.g. `publish`. */
  label: string;
  /** The number of items expected, if known (shows a bar and a percentage). */
  total?: number;
  /** The unit shown after counts, e.g. `msgs` (default `items`). */
  unit?: string;
  /** Redraw as a bar (default: whether stderr is a terminal). */
  tty?: boolean;
  /** Milliseconds between plain lines when not a terminal (default 5000). */
  interval?: number;
  /** Where output goes (default: stderr). */
  write?: (text: string) => void;
  /** Clock, for tests (default `Date.now`). */
  now?: () => number;
  /** Turns the display off entirely (e.g. `--quiet`). */
  silent?: boolean;
}

const BAR_WIDTH = 30;
/** Terminal redraws at most this often, so a fast loop does not spend its time on the bar. */
const TTY_REDRAW_MS = 100;

/** Formats a rate: `950/s`, `12.3k/s`, `1.2M/s`. */
export function formatRate(perSecond: number): string {
  if (perSecond >= 1e6) return `${(perSecond / 1e6).toFixed(1)}M/s`;
  if (perSecond >= 1e4) return `${(perSecond / 1e3).toFixed(1)}k/s`;
  return `${Math.round(perSecond)}/s`;
}

/** One status text: `publish [#####-----] 50% 500/1000 msgs 12.3k/s` (bar only for TTYs). */
export function progressLine(
  label: string,
  done: number,
  total: number | undefined,
  unit: string,
  elapsedMs: number,
  bar: boolean,
): string {
  const rate = formatRate(elapsedMs > 0 ? done / (elapsedMs / 1000) : 0);
  if (total === undefined || total <= 0) return `${label} ${done} ${unit} ${rate}`;
  const ratio = Math.min(1, done / total);
  const pct = `${Math.floor(ratio * 100)}%`;
  const filled = Math.round(ratio * BAR_WIDTH);
  const drawn = bar ? ` [${"#".repeat(filled)}${"-".repeat(BAR_WIDTH - filled)}]` : "";
  return `${label}${drawn} ${pct} ${done}/${total} ${unit} ${rate}`;
}

/** Starts a progress display; see the module doc. */
export function startProgress(options: ProgressOptions): Progress {
  const encoder = new TextEncoder();
  const write = options.write ?? ((t: string) => Deno.stderr.writeSync(encoder.encode(t)));
  const now = options.now ?? Date.now;
  const tty = options.tty ?? Deno.stderr.isTerminal();
  const interval = tty ? TTY_REDRAW_MS : options.interval ?? 5000;
  const unit = options.unit ?? "items";
  const started = now();
  let total = options.total;
  let count = 0;
  let last = started;
  let drawn = false;
  let finished = options.silent ?? false;

  const render = () => {
    const line = progressLine(options.label, count, total, unit, now() - started, tty);
    if (tty) {
      write(`\r\x1b[2K${line}`);
      drawn = true;
    } else {
      write(line + "\n");
    }
  };

  return {
    tick(n = 1) {
      count += n;
      if (finished) return;
      const t = now();
      if (t - last < interval) return;
      last = t;
      render();
    },
    setTotal(value) {
      total = value;
    },
    done() {
      if (finished) return;
      finished = true;
      if (drawn) write("\r\x1b[2K");
    },
  };
}
