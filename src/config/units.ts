/**
 * Durations (`250ms`, `30s`, `5m`, `7d`) and sizes (`512KiB`, `10GiB`) as config values.
 *
 * Sizes follow nats-server's own config parser (conf/parse.go), because this file sets
 * JetStream limits beside a nats-server.conf: `K`/`M`/`G` are decimal (1K = 1000) and
 * `KB`/`MB`/`GB` are binary (1KB = 1024), case-insensitive. The IEC units `KiB`, `MiB`, `GiB`,
 * `TiB` are binary and the unambiguous choice; `B` or a bare number is bytes.
 * @module
 */
import { z } from "zod";

const DURATION_UNITS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/** Size units, lower-cased: nats-server's (k/m/g decimal, kb/mb/gb binary) and IEC's. */
const SIZE_UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1e3,
  m: 1e6,
  g: 1e9,
  kb: 1024,
  mb: 1024 ** 2,
  gb: 1024 ** 3,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  tib: 1024 ** 4,
};

/** What a size may look like, for error messages. */
export const SIZE_HELP = "bytes, or a number with KiB/MiB/GiB/TiB (×1024); as in nats-server, " +
  "K/M/G are ×1000 and KB/MB/GB ×1024";

/** Parses `1h30m`, `250ms`, `7d` into milliseconds; a bare number is milliseconds. */
export function parseDuration(text: string): number | undefined {
  const s = text.trim();
  if (/^\d+(\.\d+)?$/.test(s)) return Number(s);
  const re = /(\d+(?:\.\d+)?)(ns|us|ms|s|m|h|d|w)/gy;
  let total = 0;
  let matched = 0;
  for (const m of s.matchAll(re)) {
    total += Number(m[1]) * DURATION_UNITS[m[2]];
    matched += m[0].length;
  }
  return matched === s.length && s.length > 0 ? total : undefined;
}

/** Parses `512KiB`, `10GiB`, `100MB` (binary), `100M` (decimal), `1024` into bytes. */
export function parseSize(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*([a-zA-Z]*)$/.exec(text.trim());
  if (!m) return undefined;
  const unit = SIZE_UNITS[m[2].toLowerCase()];
  return unit === undefined ? undefined : Math.round(Number(m[1]) * unit);
}

/** Formats milliseconds the way users write them: `7d`, `1h30m`, `250ms`. */
export function formatDuration(ms: number): string {
  if (ms === 0) return "0s";
  if (ms < 1000) return `${Math.round(ms * 1000) / 1000}ms`;
  let rest = Math.round(ms);
  let out = "";
  for (
    const [unit, size] of [["d", 86_400_000], ["h", 3_600_000], ["m", 60_000], ["s", 1000]] as const
  ) {
    if (rest >= size) {
      out += `${Math.floor(rest / size)}${unit}`;
      rest %= size;
    }
  }
  return rest > 0 ? `${out}${rest}ms` : out;
}

/** Formats a byte count with binary units: `10GiB`, `512KiB`, `100B`. */
export function formatSize(bytes: number): string {
  for (
    const [unit, size] of [["TiB", 1024 ** 4], ["GiB", 1024 ** 3], ["MiB", 1024 ** 2], [
      "KiB",
      1024,
    ]] as const
  ) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size}${unit}`;
  }
  if (bytes >= 1024 * 1024) return `${(bytes / 1024 / 1024).toFixed(1)}MiB`;
  return `${bytes}B`;
}

/** A zod type for a duration: a string like `30s` or a number of milliseconds. */
export function duration() {
  return z.union([z.number().nonnegative(), z.string()]).transform((v, ctx) => {
    if (typeof v === "number") return v;
    const ms = parseDuration(v);
    if (ms === undefined) {
      ctx.addIssue({
        code: "custom",
        message: `"${v}" is not a duration (use e.g. 250ms, 30s, 5m, 2h, 7d)`,
      });
      return z.NEVER;
    }
    return ms;
  });
}

/** A zod type for a size: a string like `512KiB` or a number of bytes. */
export function size() {
  return z.union([z.number().int().nonnegative(), z.string()]).transform((v, ctx) => {
    if (typeof v === "number") return v;
    const bytes = parseSize(v);
    if (bytes === undefined) {
      ctx.addIssue({
        code: "custom",
        message: `"${v}" is not a size: write ${SIZE_HELP} (e.g. 512KiB, 100MiB, 10GiB)`,
      });
      return z.NEVER;
    }
    return bytes;
  });
}
