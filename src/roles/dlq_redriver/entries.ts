/**
 * Reading the DLQ stream: which entries match a filter (source, age, reason, DLQ sequences), and
 * the depth per source. Used by `jetport dlq` and by auto-redrive. A listing is a snapshot: the
 * entries stored when it started.
 * @module
 */
import {
  AckPolicy,
  DeliverPolicy,
  type JetStreamClient,
  type JetStreamManager,
} from "@nats-io/jetstream";
import type { MsgHdrs } from "@nats-io/nats-core";
import { type DlqTarget, type Provenance, provenanceOf } from "../../nats/dlq.ts";
import { getOriginal } from "../../nats/msg_get.ts";

/** Which entries to take. Every given criterion must match. */
export interface EntryFilter {
  /** Only this source stream (and consumer, when given). */
  source?: { stream: string; consumer?: string };
  /** Only entries stored at or after this time. */
  since?: Date;
  /** Only entries whose reason contains this text (case-insensitive). */
  reason?: string;
  /** Only these DLQ sequences. */
  seqs?: number[];
  /** At most this many (the oldest first). */
  limit?: number;
}

/** One DLQ entry, with its provenance read from its headers. */
export interface DlqEntry {
  /** Sequence in the DLQ stream (what `--seq` takes). */
  dlqSeq: number;
  /** Subject in the DLQ stream (`<prefix>.<stream>.<consumer>`). */
  subject: string;
  /** When the DLQ stored it. */
  time: Date;
  /** All headers: the original's plus `Jetport-Dlq-*`. */
  headers?: MsgHdrs;
  /** The payload (empty in headers-only listings). */
  data: Uint8Array;
  /** Provenance; undefined for a message in the DLQ stream that jetport did not write. */
  provenance?: Provenance;
}

/** The DLQ subject filter for a source (`dlq.>`, `dlq.S.*`, `dlq.S.C`). */
export function filterSubject(target: DlqTarget, source?: EntryFilter["source"]): string {
  if (!source) return `${target.subjectPrefix}.>`;
  return `${target.subjectPrefix}.${source.stream}.${source.consumer ?? "*"}`;
}

/** Parses `STREAM/CONSUMER` or `STREAM`; undefined when malformed. */
export function parseSource(text: string): EntryFilter["source"] | undefined {
  const m = /^([^./*> ]+)(?:\/([^./*> ]+))?$/.exec(text.trim());
  if (!m) return undefined;
  return m[2] ? { stream: m[1], consumer: m[2] } : { stream: m[1] };
}

/** The `STREAM/CONSUMER` label of an entry's source (metrics, tables). */
export function sourceLabel(p: Pick<Provenance, "stream" | "consumer"> | undefined): string {
  return p ? `${p.stream}/${p.consumer}` : "unknown";
}

function matches(entry: DlqEntry, filter: EntryFilter): boolean {
  if (filter.reason) {
    const reason = entry.provenance?.reason.toLowerCase() ?? "";
    if (!reason.includes(filter.reason.toLowerCase())) return false;
  }
  if (filter.since && entry.time < filter.since) return false;
  if (filter.source) {
    const p = entry.provenance;
    if (p?.stream !== filter.source.stream) return false;
    if (filter.source.consumer && p.consumer !== filter.source.consumer) return false;
  }
  return true;
}

/** Options of {@link listEntries}. */
export interface ListOptions {
  /** Leave payloads out (listing, counting): the server sends headers only. */
  headersOnly?: boolean;
  /** Use direct get for `seqs` (the DLQ stream has `allow_direct`). */
  direct?: boolean;
}

/**
 * The entries matching `filter`, oldest first. With `seqs`, each is read by sequence (missing
 * ones are skipped); otherwise a short-lived consumer on the DLQ stream reads them.
 */
export async function listEntries(
  js: JetStreamClient,
  jsm: JetStreamManager,
  target: DlqTarget,
  filter: EntryFilter,
  options: ListOptions = {},
): Promise<DlqEntry[]> {
  const limit = filter.limit ?? Infinity;
  const out: DlqEntry[] = [];
  if (filter.seqs) {
    for (const seq of [...new Set(filter.seqs)].sort((a, b) => a - b)) {
      if (out.length >= limit) break;
      const m = await getOriginal(jsm, target.stream, seq, options.direct ?? false);
      if (!m) continue;
      const entry: DlqEntry = {
        dlqSeq: seq,
        subject: m.subject,
        time: m.time,
        headers: m.headers,
        data: options.headersOnly ? new Uint8Array() : m.data,
        provenance: provenanceOf(m.headers),
      };
      if (matches(entry, filter)) out.push(entry);
    }
    return out;
  }
  const ci = await jsm.consumers.add(target.stream, {
    ack_policy: AckPolicy.None,
    filter_subject: filterSubject(target, filter.source),
    headers_only: options.headersOnly ?? false,
    mem_storage: true,
    inactive_threshold: 30_000_000_000,
    ...(filter.since
      ? { deliver_policy: DeliverPolicy.StartTime, opt_start_time: filter.since.toISOString() }
      : { deliver_policy: DeliverPolicy.All }),
  });
  try {
    let remaining = ci.num_pending;
    if (remaining === 0) return out;
    const consumer = await js.consumers.get(target.stream, ci.name);
    while (remaining > 0 && out.length < limit) {
      const batch = await consumer.fetch({ max_messages: Math.min(remaining, 500), expires: 2000 });
      let got = 0;
      for await (const m of batch) {
        got++;
        remaining = m.info.pending;
        const entry: DlqEntry = {
          dlqSeq: m.seq,
          subject: m.subject,
          time: new Date(Math.floor(m.info.timestampNanos / 1e6)),
          headers: m.headers,
          data: m.data,
          provenance: provenanceOf(m.headers),
        };
        if (matches(entry, filter) && out.length < limit) out.push(entry);
      }
      // Entries deleted meanwhile (another redrive) leave nothing more to fetch.
      if (got === 0) break;
    }
    return out;
  } finally {
    await jsm.consumers.delete(target.stream, ci.name).catch(() => {});
  }
}

/** Entries per source (`STREAM/CONSUMER` → count), from the DLQ stream's subject counts. */
export async function depthBySource(
  jsm: JetStreamManager,
  target: DlqTarget,
): Promise<Map<string, number>> {
  const info = await jsm.streams.info(target.stream, {
    subjects_filter: `${target.subjectPrefix}.>`,
  });
  const out = new Map<string, number>();
  const prefix = target.subjectPrefix.split(".").length;
  for (const [subject, n] of Object.entries(info.state.subjects ?? {})) {
    const [stream, consumer] = subject.split(".").slice(prefix);
    const label = `${stream}/${consumer}`;
    out.set(label, (out.get(label) ?? 0) + n);
  }
  return out;
}
