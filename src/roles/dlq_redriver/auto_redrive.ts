/**
 * DLQ depth per source (read every few seconds for the metrics) and auto-redrive: every tick,
 * entries older than `redrive.delay` are redriven, and those out of tries (`max_redrives`) or
 * without a payload are parked, logged once and counted.
 * @module
 */
import type { DlqHandles } from "./handles.ts";
import { depthBySource, listEntries, sourceLabel } from "./entries.ts";
import { type RedriveContext, redriveMany } from "./redrive.ts";
import { delay } from "../../platform/delay.ts";

/** Reads the DLQ's depth per source into the `dlq_depth` gauge; `known` grows with new sources. */
export async function refreshDepth(h: DlqHandles, known: Set<string>): Promise<void> {
  try {
    const bySource = await depthBySource(h.jsm, h.target);
    for (const source of new Set([...known, ...bySource.keys()])) {
      h.metrics.depth.set(bySource.get(source) ?? 0, { source });
      known.add(source);
    }
  } catch (err) {
    h.log.debug("cannot read DLQ depth: {error}", { error: (err as Error).message });
  }
}

/** Redrives due entries until `h.signal` aborts. */
export async function autoRedrive(h: DlqHandles, known: Set<string>): Promise<void> {
  const { delay: after, max_redrives: max, rate } = h.cfg.redrive;
  const tick = Math.min(30_000, Math.max(1000, after / 4));
  const parkedLogged = new Set<number>();
  while (!h.signal.aborted) {
    try {
      await pass(h, known, parkedLogged, { after, max, rate });
    } catch (err) {
      if (!h.signal.aborted) {
        h.log.warn("auto-redrive pass failed: {error}", { error: (err as Error).message });
      }
    }
    await delay(tick, h.signal);
  }
}

/** One auto-redrive pass. */
async function pass(
  h: DlqHandles,
  known: Set<string>,
  parkedLogged: Set<number>,
  o: { after: number; max: number; rate: number },
): Promise<void> {
  const { log, metrics } = h;
  const entries = await listEntries(h.js, h.jsm, h.target, {}, { headersOnly: true });
  const now = Date.now();
  const parkedBySource = new Map<string, number>();
  const sourceOf = new Map<number, string>();
  for (const e of entries) {
    const p = e.provenance;
    if (!p) continue;
    const source = sourceLabel(p);
    known.add(source);
    if (p.missing || p.redrives >= o.max) {
      parkedBySource.set(source, (parkedBySource.get(source) ?? 0) + 1);
      if (!parkedLogged.has(e.dlqSeq)) {
        parkedLogged.add(e.dlqSeq);
        log.warn("DLQ seq {dlqSeq} ({source} seq {seq}) parked: {why}", {
          dlqSeq: e.dlqSeq,
          source,
          seq: p.seq,
          why: p.missing
            ? "no payload (the original was gone)"
            : `redriven ${p.redrives} times (max_redrives ${o.max})`,
        });
      }
      continue;
    }
    const failedAt = Date.parse(p.failedAt);
    if ((Number.isNaN(failedAt) ? e.time.getTime() : failedAt) + o.after <= now) {
      sourceOf.set(e.dlqSeq, source);
    }
  }
  for (const source of known) metrics.parked.set(parkedBySource.get(source) ?? 0, { source });
  if (sourceOf.size === 0) return;
  const rctx: RedriveContext = {
    publisher: h.publisher,
    jsm: h.jsm,
    target: h.target,
    direct: true,
  };
  const summary = await redriveMany(rctx, [...sourceOf.keys()], {
    rate: o.rate,
    signal: h.signal,
    onEntry(seq, outcome, error) {
      if (outcome === "redriven") metrics.redriven.inc({ source: sourceOf.get(seq) ?? "" });
      if (error) log.error("auto-redrive: {error}", { error: error.message });
    },
  });
  log.info("auto-redrive: {n} entries redriven, {failed} failed", {
    n: summary.outcomes.redriven,
    failed: summary.outcomes.failed,
  });
}
