/**
 * `jetport replay`: reads a window of a stream through an ordered ephemeral consumer and writes
 * it as JSON lines, or re-publishes it to another subject at a bounded rate. The window ends at
 * the stream's last message when the command starts, so a replay always ends; the consumer is
 * deleted afterwards, so nothing is left behind on the server.
 * @module
 */
import { DeliverPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { type Command, EXIT } from "../command.ts";
import { intFlag, stringFlag, UsageError } from "../args.ts";
import { CONFIG_HELP, loadConfigFlag } from "../config_flag.ts";
import { headersToObject, objectToHeaders, storedMessageLine } from "../message_line.ts";
import { pacer, parseRate } from "../rate.ts";
import { parseDuration } from "../../config/units.ts";
import { connectOnce } from "../../nats/connect_once.ts";
import { createPublisher } from "../../nats/publisher.ts";
import { startProgress } from "../../platform/progress.ts";
import { formatCounts } from "./publish.ts";
import { printJson, wantsJson } from "../json.ts";

/** Where a replay starts. */
export type ReplayStart =
  | { kind: "all" }
  | { kind: "seq"; seq: number }
  | { kind: "time"; time: Date };

/** Reads `--since`, `--from-seq`, `--start-time` (at most one) relative to `now`. */
export function replayStart(
  flags: { since?: string; fromSeq?: number; startTime?: string },
  now = Date.now(),
): ReplayStart {
  const given = [flags.since, flags.fromSeq, flags.startTime].filter((v) => v !== undefined);
  if (given.length > 1) throw new UsageError("give one of --since, --from-seq, --start-time");
  if (flags.since !== undefined) {
    const ms = parseDuration(flags.since);
    if (ms === undefined) {
      throw new UsageError(`--since takes a duration like 1h, got "${flags.since}"`);
    }
    return { kind: "time", time: new Date(now - ms) };
  }
  if (flags.fromSeq !== undefined) return { kind: "seq", seq: Math.max(1, flags.fromSeq) };
  if (flags.startTime !== undefined) {
    const time = new Date(flags.startTime);
    if (isNaN(time.getTime())) {
      throw new UsageError(`--start-time takes an ISO-8601 time, got "${flags.startTime}"`);
    }
    return { kind: "time", time };
  }
  return { kind: "all" };
}

/** Writes text in large chunks: one write per message would dominate a big replay. */
function bufferedWriter(file: { write(p: Uint8Array): Promise<number> }) {
  const encoder = new TextEncoder();
  let parts: string[] = [];
  let size = 0;
  const flush = async () => {
    if (parts.length === 0) return;
    let bytes = encoder.encode(parts.join(""));
    parts = [];
    size = 0;
    while (bytes.length > 0) bytes = bytes.subarray(await file.write(bytes));
  };
  return {
    async line(text: string) {
      parts.push(text, "\n");
      size += text.length + 1;
      if (size >= 1 << 16) await flush();
    },
    flush,
  };
}

/** What a replay did. */
export interface ReplayResult {
  /** Messages read in the window. */
  read: number;
  /** First and last sequence read. */
  first?: number;
  last?: number;
  /** Re-published messages the stream stored. */
  published: number;
  /** Re-published messages the stream reported as duplicates. */
  duplicates: number;
  /** Re-publishes that failed. */
  failed: number;
}

/** Replay options. */
export interface ReplayOptions {
  stream: string;
  subject?: string;
  start: ReplayStart;
  limit?: number;
  /** JSON lines go here (unless `toSubject`). */
  write?: (line: string) => Promise<void>;
  /** Re-publish to this subject instead. */
  toSubject?: string;
  /** Messages per second when re-publishing. */
  rate?: number;
  /** Progress display on stderr. */
  quiet?: boolean;
}

/** Replays a stream window on `nc`; see the module doc. */
export async function replay(nc: NatsConnection, opts: ReplayOptions): Promise<ReplayResult> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(opts.stream);
  const lastSeq = info.state.last_seq;
  const consumer = await jetstream(nc).consumers.get(opts.stream, {
    ...(opts.subject ? { filter_subjects: opts.subject } : {}),
    ...(opts.start.kind === "seq"
      ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: opts.start.seq }
      : opts.start.kind === "time"
      ? { opt_start_time: opts.start.time.toISOString() }
      : { deliver_policy: DeliverPolicy.All }),
  });
  const result: ReplayResult = { read: 0, published: 0, duplicates: 0, failed: 0 };
  const pending = (await consumer.info(true)).num_pending;
  const total = Math.min(pending, opts.limit ?? Infinity);
  const progress = startProgress({ label: "replay", total, unit: "msgs", silent: opts.quiet });
  const publisher = opts.toSubject ? createPublisher(nc) : undefined;
  const pace = opts.rate ? pacer(opts.rate) : undefined;
  const sends: Promise<void>[] = [];
  try {
    if (total === 0 || lastSeq === 0) return result;
    const messages = await consumer.consume({ max_messages: 1000 });
    try {
      for await (const m of messages) {
        if (m.seq > lastSeq) break; // stored after the replay began: outside the window
        result.read++;
        result.first ??= m.seq;
        result.last = m.seq;
        if (publisher) {
          await pace?.();
          await publisher.room();
          const headers = headersToObject(m.headers);
          delete headers["Nats-Msg-Id"];
          sends.push(
            publisher.publish({
              subject: opts.toSubject!,
              data: m.data,
              headers: objectToHeaders(headers),
              // Replaying the same window twice is stored once (duplicate window).
              msgId: `replay:${opts.stream}:${m.seq}`,
            }).then(
              (ack) => void (ack.duplicate ? result.duplicates++ : result.published++),
              () => void result.failed++,
            ),
          );
        } else {
          await opts.write!(JSON.stringify(storedMessageLine(m.info.stream, m)));
        }
        progress.tick();
        if (m.seq >= lastSeq || m.info.pending === 0 || result.read >= total) break;
      }
    } finally {
      messages.stop();
    }
    await Promise.all(sends);
    return result;
  } finally {
    progress.done();
    await publisher?.close();
    await consumer.delete().catch(() => {}); // ordered consumers are ephemeral, but do not linger
  }
}

/** The `replay` command. */
export const replayCommand: Command = {
  name: "replay",
  summary: "read a stream back as JSON lines, or re-publish it",
  help: `Usage: jetport replay --config FILE --stream S [--subject F]
                      [--since 1h | --from-seq N | --start-time ISO]
                      [--to FILE | --to-subject S [--rate N/s]] [--limit N]

Reads the stream from the start point up to its last message at the time the command starts,
through an ordered ephemeral consumer that is deleted at the end (nothing is left behind).
Each message becomes one JSON line:
  {"stream","seq","subject","time","headers","data"}
with "data" the payload as JSON when it parses as JSON, otherwise "data_base64" (base64) in
its place. The lines can be published again with jetport publish --file.

${CONFIG_HELP}
  --stream S        the stream to read (required)
  --subject F       only messages whose subject matches F (wildcards allowed)
  --since D         messages stored in the last D (1h, 30m, 7d)
  --from-seq N      messages from sequence N on
  --start-time ISO  messages stored at or after this time (2024-05-01T12:00:00Z)
                    (default: the whole stream)
  --to FILE         write the JSON lines to FILE (default: stdout)
  --to-subject S    re-publish each message to subject S instead (headers kept,
                    Nats-Msg-Id "replay:<stream>:<seq>" so a second run is a duplicate)
  --rate N/s        at most N messages per second when re-publishing
  --limit N         stop after N messages
  --quiet           no progress on stderr
  --json            with --to or --to-subject: the summary as one JSON document on stdout
                    {"stream","read","first_seq","last_seq","to","to_subject",
                     "published","duplicates","failed"}

Exit codes: 0 done, 1 NATS or stream error (or failed re-publishes), 2 bad usage.`,
  flags: {
    string: [
      "config",
      "stream",
      "subject",
      "since",
      "from-seq",
      "start-time",
      "to",
      "to-subject",
      "rate",
      "limit",
    ],
    boolean: ["quiet", "json"],
  },
  async run(args) {
    const stream = stringFlag(args, "stream", true);
    const start = replayStart({
      since: stringFlag(args, "since"),
      fromSeq: intFlag(args, "from-seq"),
      startTime: stringFlag(args, "start-time"),
    });
    const to = stringFlag(args, "to");
    const toSubject = stringFlag(args, "to-subject");
    const rateText = stringFlag(args, "rate");
    if (to && toSubject) throw new UsageError("give --to or --to-subject, not both");
    if (rateText && !toSubject) throw new UsageError("--rate goes with --to-subject");
    if (wantsJson(args) && !to && !toSubject) {
      throw new UsageError(
        "the lines on stdout already are JSON: --json goes with --to or --to-subject",
      );
    }
    const rate = rateText ? parseRate(rateText) : undefined;
    const config = await loadConfigFlag(args);
    const nc = await connectOnce(config.nats);
    const file = to
      ? await Deno.open(to, { write: true, create: true, truncate: true })
      : undefined;
    const out = bufferedWriter(file ?? Deno.stdout);
    try {
      const result = await replay(nc, {
        stream,
        subject: stringFlag(args, "subject"),
        start,
        limit: intFlag(args, "limit"),
        write: out.line,
        toSubject,
        rate,
        quiet: args.flags.quiet === true,
      });
      await out.flush();
      if (wantsJson(args)) {
        printJson({
          stream,
          read: result.read,
          first_seq: result.first ?? null,
          last_seq: result.last ?? null,
          to: to ?? null,
          to_subject: toSubject ?? null,
          published: result.published,
          duplicates: result.duplicates,
          failed: result.failed,
        });
        return result.failed > 0 ? EXIT.failure : EXIT.ok;
      }
      const range = result.first === undefined ? "" : ` (seq ${result.first}..${result.last})`;
      const where = toSubject ? ` to ${toSubject}: ${formatCounts(result)}` : to ? ` to ${to}` : "";
      console.error(`replay: ${result.read} messages from ${stream}${range}${where}`);
      return result.failed > 0 ? EXIT.failure : EXIT.ok;
    } finally {
      file?.close();
      await nc.close();
    }
  },
};
