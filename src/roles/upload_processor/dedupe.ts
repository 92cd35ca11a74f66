/**
 * Atomic dedupe of upload events across processes, in the KV bucket `dedupe_bucket`, one key per
 * `event_id`. Before the handler runs, a worker *claims* the event with a KV create, which the
 * server refuses when the key exists: of two processes that got the same event (a redelivery after
 * a consumer-leader change, `ack_wait` running out), only one runs the handler; the other gives the
 * message back for later. The record then moves to `done` (handler ran: it keeps the result
 * event, and later deliveries only publish that same result again, deduplicated by its
 * `Nats-Msg-Id`, and are acked) or `dead` (dead-lettered: later deliveries of the same stream
 * sequence only re-send the same DLQ entry, so a result can never be stored after the DLQ entry of
 * that delivery, nor a DLQ entry after the result).
 *
 * A claim is refreshed at every heartbeat and expires when its holder stops refreshing it (the
 * process crashed): with a per-key TTL (`Nats-TTL`) on buckets that allow it (nats-server 2.11+,
 * buckets jetport creates there), else by the claim's timestamp (a claim older than its TTL may be
 * taken over; this trusts the processes' clocks to agree within the TTL). A taker also waits
 * until it has seen the same lapsed claim unchanged for a third of the TTL: after a bucket
 * outage longer than the TTL every claim looks old, and a live holder gets that long to write
 * again. Every takeover and refresh is a compare-and-set on the key's revision, so two takers
 * never both win.
 * @module
 */
import { JetStreamApiCodes } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import { headers } from "@nats-io/nats-core";
import { isApiError } from "../../nats/errors.ts";
import type { Publisher } from "../../nats/publisher.ts";
import { retryable } from "./failure.ts";

/** What is stored under an event id. */
type DedupeRecord =
  | { state: "claimed"; owner: string; at: number }
  | { state: "done"; processed_at: string; result?: unknown }
  | { state: "dead"; seq: number; reason: string };

/** The outcome of {@link Dedupe.claim}. */
export type ClaimResult =
  | { kind: "claimed"; claim: Claim }
  | { kind: "done"; result?: unknown }
  | { kind: "dead"; reason: string }
  | { kind: "busy"; ageMs: number };

/** A held claim: refresh it while working, then end it one of three ways. */
export interface Claim {
  /** Extends the claim's life (heartbeat); failures are ignored (the claim may lapse). */
  refresh(): Promise<void>;
  /** Gives the claim up so a later delivery can take it (a retryable failure). */
  release(): Promise<void>;
  /**
   * Records the event as processed (the handler ran), with its result event, so a redelivery
   * can publish that result again if this delivery could not (see `outcome.ts`).
   */
  done(result?: unknown): Promise<void>;
  /** Records that delivery `seq` was dead-lettered with `reason` (before the DLQ publish). */
  dead(seq: number, reason: string): Promise<void>;
}

/** Claims events; see the module comment. */
export interface Dedupe {
  /** Tries to claim `eventId` for delivery `seq`. Throws a retryable failure if KV is down. */
  claim(eventId: string, seq: number): Promise<ClaimResult>;
}

/** Settings of {@link createDedupe}. */
export interface DedupeOptions {
  /** The bucket's name (for the subject and messages). */
  bucket: string;
  /** How long an unrefreshed claim lives. */
  claimTtlMs: number;
  /** True when the bucket's stream allows per-message TTL. */
  perKeyTtl: boolean;
  /** This process's id, written into its claims. */
  owner: string;
}

function isConflict(err: unknown): boolean {
  return isApiError(err, JetStreamApiCodes.StreamWrongLastSequence) ||
    isApiError(err, JetStreamApiCodes.StreamWrongLastSequenceUnknown);
}

function parse(value: Uint8Array): DedupeRecord {
  try {
    const v = JSON.parse(new TextDecoder().decode(value));
    if (v?.state === "claimed" || v?.state === "dead" || v?.state === "done") return v;
  } catch { /* an older jetport's record: `{processed_at}` */ }
  return { state: "done", processed_at: "" };
}

/**
 * Creates the claim logic over `kv`, whose records are written through `publisher` (the role's:
 * one inbox and one timer for all of them, where a nats.js KV write costs a request each).
 */
export function createDedupe(kv: KV, publisher: Publisher, opts: DedupeOptions): Dedupe {
  const ttl = opts.perKeyTtl ? `${Math.max(1, Math.ceil(opts.claimTtlMs / 1000))}s` : undefined;
  const held = new Set<string>();
  /** Lapsed claims this process has seen: event id → that claim's revision and when first seen. */
  const lapsedSince = new Map<string, { revision: number; since: number }>();
  const failed = (what: string, err: unknown) =>
    retryable("internal", `dedupe bucket ${opts.bucket}: ${what}: ${(err as Error).message}`);

  /**
   * Stores `record` under `eventId`: only if the key is still at `revision` when one is given
   * (0: the key has no value), with the claim TTL when `withTtl`. Its revision.
   */
  async function write(
    eventId: string,
    record: DedupeRecord,
    revision: number | undefined,
    withTtl: boolean,
  ): Promise<number> {
    const h = headers();
    if (revision !== undefined) h.set("Nats-Expected-Last-Subject-Sequence", String(revision));
    if (withTtl && ttl) h.set("Nats-TTL", ttl);
    const subject = `$KV.${opts.bucket}.${eventId}`;
    return (await publisher.publish({ subject, data: JSON.stringify(record), headers: h })).seq;
  }

  /** Writes `record` if the key is still at `revision`; the new revision, or undefined if not. */
  async function swap(eventId: string, record: DedupeRecord, revision: number, withTtl: boolean) {
    try {
      return await write(eventId, record, revision, withTtl);
    } catch (err) {
      if (isConflict(err)) return undefined;
      throw err;
    }
  }

  function holding(eventId: string, initial: number): Claim {
    let revision = initial;
    held.add(eventId);
    const claimed = () => ({ state: "claimed" as const, owner: opts.owner, at: Date.now() });
    return {
      async refresh() {
        revision = await swap(eventId, claimed(), revision, true).catch(() => revision) ??
          revision;
      },
      async release() {
        held.delete(eventId);
        await kv.delete(eventId, { previousSeq: revision }).catch(() => {/* it expires */});
      },
      async done(result) {
        held.delete(eventId);
        // Unconditional: the handler has run, whoever holds the key now.
        const record = { state: "done", processed_at: new Date().toISOString(), result } as const;
        await write(eventId, record, undefined, false);
      },
      async dead(seq, reason) {
        const next = await swap(eventId, { state: "dead", seq, reason }, revision, false);
        if (next === undefined) throw new Error(`the claim on ${eventId} was taken over`);
        held.delete(eventId);
        revision = next;
      },
    };
  }

  /**
   * True once this process has seen the same lapsed revision of `eventId` for a third of a claim
   * life. An old timestamp alone is not enough: after a bucket leader election longer than a
   * claim life every claim looks lapsed, while its live holder has the handler's result in hand
   * and is retrying its `done` write; taking over then would run the handler twice. A live holder
   * writes (refresh or `done`) well within that third once the bucket answers again.
   */
  function stillLapsed(eventId: string, revision: number): boolean {
    const now = performance.now();
    const seen = lapsedSince.get(eventId);
    if (seen?.revision === revision) return now - seen.since >= opts.claimTtlMs / 3;
    for (const [id, { since }] of lapsedSince) {
      // Insertion order is age order: forget events another process took over long ago.
      if (now - since < opts.claimTtlMs * 10) break;
      lapsedSince.delete(id);
    }
    lapsedSince.delete(eventId);
    lapsedSince.set(eventId, { revision, since: now });
    return false;
  }

  /** Claims a key that has no value; undefined when it has one (or a delete marker). */
  async function create(eventId: string, record: DedupeRecord): Promise<Claim | undefined> {
    try {
      return holding(eventId, await write(eventId, record, 0, true));
    } catch (err) {
      if (!isConflict(err)) throw failed("claim", err);
      return undefined;
    }
  }

  return {
    async claim(eventId, seq) {
      const record: DedupeRecord = { state: "claimed", owner: opts.owner, at: Date.now() };
      // Twice: a claim that expires between our create and our read leaves no key to judge.
      for (let attempt = 0; attempt < 2; attempt++) {
        const claim = await create(eventId, record);
        if (claim) return { kind: "claimed", claim };
        const entry = await kv.get(eventId).catch((err) => {
          throw failed("read", err);
        });
        if (!entry) continue;
        if (entry.operation === "PUT") {
          const current = parse(entry.value);
          if (current.state === "done") return { kind: "done", result: current.result };
          if (current.state === "dead" && current.seq === seq) {
            return { kind: "dead", reason: current.reason };
          }
          if (current.state === "claimed") {
            const age = Date.now() - current.at;
            // Our own claim that we do not hold is one whose release failed: take it back.
            const lapsed = (age > opts.claimTtlMs && stillLapsed(eventId, entry.revision)) ||
              (current.owner === opts.owner && !held.has(eventId));
            if (!lapsed) return { kind: "busy", ageMs: age };
          }
        }
        lapsedSince.delete(eventId);
        // A lapsed claim, a released one (its delete marker), or the dead record of another
        // delivery (the event was redriven).
        const revision = await swap(eventId, record, entry.revision, true).catch((err) => {
          throw failed("take over", err);
        });
        return revision === undefined
          ? { kind: "busy", ageMs: 0 }
          : { kind: "claimed", claim: holding(eventId, revision) };
      }
      return { kind: "busy", ageMs: 0 };
    },
  };
}
