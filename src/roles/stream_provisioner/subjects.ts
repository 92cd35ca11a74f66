/**
 * NATS subject patterns: whether two patterns can match the same subject (streams whose subjects
 * overlap cannot coexist), whether one pattern covers another, and whether a subject matches.
 * Tokens are separated by `.`; `*` matches exactly one token, `>` one or more trailing tokens.
 * @module
 */

function tokens(subject: string): string[] {
  return subject.split(".");
}

/** True when some subject matches both `a` and `b` (e.g. `app.>` and `app.dlq.>`). */
export function subjectsOverlap(a: string, b: string): boolean {
  const ta = tokens(a);
  const tb = tokens(b);
  for (let i = 0; i < Math.max(ta.length, tb.length); i++) {
    const x = ta[i];
    const y = tb[i];
    // `>` needs at least one token, which the other side has at this position.
    if ((x === ">" && y !== undefined) || (y === ">" && x !== undefined)) return true;
    if (x === undefined || y === undefined) return false;
    if (x !== y && x !== "*" && y !== "*") return false;
  }
  return true;
}

/** True when every subject matching `inner` also matches `outer` (`file.>` covers `file.a.*`). */
export function subjectCovers(outer: string, inner: string): boolean {
  const to = tokens(outer);
  const ti = tokens(inner);
  for (let i = 0; i < to.length; i++) {
    const o = to[i];
    const n = ti[i];
    if (n === undefined) return false;
    if (o === ">") return true;
    if (n === ">") return false;
    if (o === "*") continue;
    if (n === "*" || n !== o) return false;
  }
  return to.length === ti.length;
}

/** True when the literal `subject` matches `pattern`. */
export function subjectMatches(pattern: string, subject: string): boolean {
  return subjectCovers(pattern, subject);
}
