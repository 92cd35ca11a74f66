/**
 * A set of stream sequences kept as sorted, merged ranges: the monitor's written sequences are
 * nearly contiguous (gaps only where a filter subject skips messages), so thousands of them take
 * a few numbers, and adding the next one extends the last range in O(1).
 * @module
 */

/** A set of positive integers as merged ranges; see the module doc. */
export interface SeqRanges {
  /** Adds `seq`. */
  add(seq: number): void;
  /** True when `seq` is in the set. */
  has(seq: number): boolean;
  /** Removes every sequence at or below `floor`. */
  dropThrough(floor: number): void;
  /** Number of ranges (a measure of its size). */
  size(): number;
  /** `1-5,7,9-12` (empty string when empty). */
  toString(): string;
}

/** Creates a set, optionally from the text {@link SeqRanges.toString} wrote; throws on bad text. */
export function createSeqRanges(text = ""): SeqRanges {
  const starts: number[] = [];
  const ends: number[] = [];

  /** Index of the last range starting at or below `seq`, -1 when none. */
  function floorIndex(seq: number): number {
    let lo = 0, hi = starts.length - 1, found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (starts[mid] <= seq) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  }

  function add(seq: number): void {
    const last = starts.length - 1;
    if (last >= 0 && seq === ends[last] + 1) {
      ends[last] = seq; // the common case: the next sequence
      return;
    }
    const i = floorIndex(seq);
    if (i >= 0 && seq <= ends[i]) return;
    if (i >= 0 && seq === ends[i] + 1) ends[i] = seq;
    else {
      starts.splice(i + 1, 0, seq);
      ends.splice(i + 1, 0, seq);
    }
    const j = i >= 0 && ends[i] === seq ? i : i + 1;
    if (j + 1 < starts.length && starts[j + 1] === ends[j] + 1) {
      ends[j] = ends[j + 1];
      starts.splice(j + 1, 1);
      ends.splice(j + 1, 1);
    }
  }

  for (const part of text.split(",")) {
    if (part === "") continue;
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) throw new Error(`bad sequence range "${part}"`);
    const from = Number(m[1]), to = Number(m[2] ?? m[1]);
    if (to < from) throw new Error(`bad sequence range "${part}"`);
    if (starts.length && from > ends[starts.length - 1] + 1) {
      starts.push(from);
      ends.push(to);
    } else for (let s = from; s <= to; s++) add(s);
  }

  return {
    add,
    has(seq) {
      const i = floorIndex(seq);
      return i >= 0 && seq <= ends[i];
    },
    dropThrough(floor) {
      let n = 0;
      while (n < starts.length && ends[n] <= floor) n++;
      starts.splice(0, n);
      ends.splice(0, n);
      if (starts.length && starts[0] <= floor) starts[0] = floor + 1;
    },
    size: () => starts.length,
    toString: () => starts.map((s, i) => (s === ends[i] ? `${s}` : `${s}-${ends[i]}`)).join(","),
  };
}
