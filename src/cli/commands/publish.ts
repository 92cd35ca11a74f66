/**
 * `jetport publish`: one message (`--data` or stdin) or many (`--file events.jsonl`) through the
 * windowed publisher, with progress and a summary of what the stream acknowledged.
 * @module
 */
import { headers as newHeaders, type MsgHdrs } from "@nats-io/nats-core";
import { type Command, EXIT } from "../command.ts";
import { stringFlag, UsageError } from "../args.ts";
import { CONFIG_HELP, loadBaseConfigFlag } from "../config_flag.ts";
import { linePayload, type MessageLine, objectToHeaders } from "../message_line.ts";
import { parseDuration } from "../../config/units.ts";
import { connectOnce } from "../../nats/connect_once.ts";
import { createPublisher, type OutgoingMessage, type Publisher } from "../../nats/publisher.ts";
import { startProgress } from "../../platform/progress.ts";
import { JSON_HELP, printJson, wantsJson } from "../json.ts";
import { eachLine } from "../jsonl_lines.ts";

/** Keys an envelope line may have (the replay format is an envelope too). */
const ENVELOPE_KEYS = new Set([
  "subject",
  "msg_id",
  "headers",
  "data",
  "data_base64",
  "stream",
  "seq",
  "time",
]);

/** Whether a parsed line is an envelope rather than a bare payload. */
export function isEnvelope(value: unknown): value is MessageLine {
  if (!value || typeof value !== "object" || Array.isArray(value)) return false;
  return ("data" in value || "data_base64" in value) &&
    Object.keys(value).every((k) => ENVELOPE_KEYS.has(k));
}

/** What every message of one run shares. */
export interface PublishDefaults {
  /** `--subject`, for bare payloads and envelopes without one. */
  subject?: string;
  /** `--msg-id`; `{line}` is replaced by the line number. */
  msgId?: string;
  /** `--header K:V` values. */
  headers: [string, string][];
}

/**
 * Turns line `lineNo` of a JSONL file into a message; throws with a reason when it cannot.
 * `bytes`, when given, are the line's UTF-8 bytes: a bare payload is sent as them, not encoded
 * again.
 */
export function lineMessage(
  text: string,
  lineNo: number,
  d: PublishDefaults,
  bytes?: Uint8Array,
): OutgoingMessage {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new Error(`not JSON (${(err as Error).message})`);
  }
  const env = isEnvelope(parsed) ? parsed : undefined;
  const subject = env?.subject ?? d.subject;
  if (!subject) throw new Error('no subject: give --subject or a "subject" in the line');
  const headers = withHeaders(objectToHeaders(env?.headers), d.headers);
  const fromHeader = headers?.get("Nats-Msg-Id") || undefined;
  return {
    subject,
    data: env ? linePayload(env) : bytes ?? text,
    msgId: env?.msg_id ?? fromHeader ?? d.msgId?.replaceAll("{line}", String(lineNo)),
    headers,
  };
}

function withHeaders(h: MsgHdrs | undefined, extra: [string, string][]): MsgHdrs | undefined {
  if (extra.length === 0) return h;
  const out = h ?? newHeaders();
  for (const [k, v] of extra) out.append(k, v);
  return out;
}

/** Parses `--header K:V` flags. */
function parseHeaders(values: string[]): [string, string][] {
  return values.map((v) => {
    const i = v.indexOf(":");
    if (i <= 0) throw new UsageError(`--header takes Name:value, got "${v}"`);
    return [v.slice(0, i).trim(), v.slice(i + 1).trim()];
  });
}

/** Counts of a publish run. */
export interface PublishSummary {
  /** Stored by the stream. */
  published: number;
  /** Acknowledged as duplicates (same Nats-Msg-Id within the duplicate window). */
  duplicates: number;
  /** Not stored: unreadable lines, stream errors, timeouts. */
  failed: number;
}

/**
 * How many failures are named (on stderr, and in `--json`): a file full of them would drown the
 * rest.
 */
const NAMED_FAILURES = 10;

/** One failure named by where it happened (`file:line`, or `message`). */
export interface PublishFailure {
  /** `file:line` of the line, or `message` for a single message. */
  where: string;
  /** Why it was not stored. */
  message: string;
}

/** `N published, N duplicates, N failed`: how publish and replay --to-subject end. */
export function formatCounts(s: PublishSummary): string {
  return `${s.published} published, ${s.duplicates} duplicates, ${s.failed} failed`;
}

/**
 * How many messages the command keeps awaiting their PubAck. Four times the roles' window: a
 * command has one producer and nothing else to keep memory for (4096 lines of a few hundred bytes
 * is about a megabyte), and with 1024 the server ran dry while the command read a batch of acks
 * and wrote the next lines (both processes idle a third of the time; 4096: 13-15% less wall time
 * at 100k lines, alternated runs; 8192 and 16384 no better).
 */
const WINDOW = 4096;
/**
 * Once the window is full, sending resumes when this many are left awaiting their PubAck: a
 * quarter of the window goes out at once, in one socket write, rather than a few messages per
 * batch of PubAcks read (fewer wake-ups and syscalls on both sides: 3-7% less wall time at 100k
 * lines in interleaved runs), while the server still has three quarters of the window queued.
 */
const RESUME_AT = WINDOW - WINDOW / 4;

/**
 * Publishes messages with backpressure and counts their outcomes, naming failures by `where(n)`.
 * Messages are sent one synchronous run at a time until the window is full and again once it is
 * down to {@link RESUME_AT}, so the client writes them to the socket together; outcomes come back
 * through callbacks (no promise per message: at 100k lines their garbage was a large part of the
 * command's time).
 */
function createSender(
  publisher: Publisher,
  where: (n: number) => string,
  onDone: () => void,
) {
  const summary = { published: 0, duplicates: 0, failed: 0, failures: [] as PublishFailure[] };
  let outstanding = 0;
  let drained: (() => void) | undefined;
  let resume: (() => void) | undefined;
  const fail = (n: number, why: string) => {
    summary.failed++;
    if (summary.failed <= NAMED_FAILURES) {
      const at = where(n);
      summary.failures.push({ where: at, message: why });
      console.error(`${at}: ${why}`);
    } else if (summary.failed === NAMED_FAILURES + 1) console.error("(more failures not shown)");
    onDone();
  };
  return {
    /** Counts message `n` as failed before it was sent. */
    fail,
    /**
     * Sends message `n`; returns a promise only when the window is full, resolved once it is
     * down to {@link RESUME_AT}.
     */
    send(n: number, msg: OutgoingMessage): Promise<void> | undefined {
      outstanding++;
      publisher.send(msg, (err, ack) => {
        if (err) fail(n, err.message);
        else {
          if (ack!.duplicate) summary.duplicates++;
          else summary.published++;
          onDone();
        }
        if (--outstanding === 0) drained?.();
        if (resume && outstanding <= RESUME_AT) {
          const r = resume;
          resume = undefined;
          r();
        }
      });
      if (outstanding < WINDOW) return undefined;
      return new Promise<void>((r) => resume = r);
    },
    /** Resolves with the counts once every message sent is acknowledged or has failed. */
    async finish(): Promise<PublishSummary & { failures: PublishFailure[] }> {
      if (outstanding > 0) await new Promise<void>((r) => drained = r);
      return summary;
    },
  };
}

/** The `publish` command. */
export const publishCommand: Command = {
  name: "publish",
  summary: "publish messages to JetStream (one, or a JSONL file)",
  help:
    `Usage: jetport publish --config FILE --subject S [--data JSON] [--msg-id ID] [--header K:V]...
       jetport publish --config FILE --file events.jsonl [--subject S] [--msg-id 'batch-{line}']

One message: --data, or standard input when --data and --file are absent.
Many: --file, one message per line, either a bare JSON payload (sent to --subject) or an
envelope {"subject", "msg_id", "headers", "data" | "data_base64"} (the message shape jetport
replay and dlq show --json print; their "stream", "seq" and "time" are ignored). Every message is acknowledged by the stream before it counts; the summary line says
how many were stored, how many the stream reported as duplicates (same Nats-Msg-Id within its
duplicate window), and how many failed (each failure is named by file:line on stderr).

${CONFIG_HELP}
  --subject S       subject for the message(s) without their own
  --data TEXT       the payload of a single message
  --file FILE       a JSON-lines file ("-" for standard input)
  --msg-id ID       Nats-Msg-Id; with --file, {line} becomes the line number, so running the
                    same file again yields duplicates instead of copies
  --header K:V      a header on every message (repeatable)
  --timeout D       how long one message may take, retries included (default 10s);
                    a subject no stream captures fails after this long
  --quiet           no progress on stderr
${JSON_HELP}
                    {"published","duplicates","failed","failures":[{"where","message"}]}
                    (the first ${NAMED_FAILURES} failures are named)

Exit codes: 0 every message acknowledged, 1 some failed, 2 bad usage or invalid config.`,
  flags: {
    string: ["config", "subject", "data", "file", "msg-id", "timeout"],
    multiple: ["header"],
    boolean: ["quiet", "json"],
  },
  async run(args) {
    const subject = stringFlag(args, "subject");
    const data = stringFlag(args, "data");
    const file = stringFlag(args, "file");
    const defaults: PublishDefaults = {
      subject,
      msgId: stringFlag(args, "msg-id"),
      headers: parseHeaders((args.flags.header as string[] | undefined) ?? []),
    };
    if (data !== undefined && file !== undefined) {
      throw new UsageError("give --data or --file, not both");
    }
    if (file === undefined && !subject) throw new UsageError("--subject is required");
    const timeoutText = stringFlag(args, "timeout") ?? "10s";
    const timeout = parseDuration(timeoutText);
    if (!timeout) throw new UsageError(`--timeout takes a duration like 10s, got "${timeoutText}"`);
    const config = await loadBaseConfigFlag(args);
    const input = file !== undefined && file !== "-" ? await Deno.open(file) : undefined;
    const nc = await connectOnce(config.nats);
    const publisher = createPublisher(nc, { name: "cli", deadline: timeout, window: WINDOW });
    const progress = startProgress({
      label: "publish",
      unit: "msgs",
      silent: args.flags.quiet === true || file === undefined,
    });
    try {
      const sender = createSender(
        publisher,
        (n) => file === undefined ? "message" : `${file}:${n}`,
        () => progress.tick(),
      );
      if (file === undefined) {
        sender.send(1, {
          subject: subject!,
          data: data ?? await new Response(Deno.stdin.readable).text(),
          msgId: defaults.msgId,
          headers: withHeaders(undefined, defaults.headers),
        });
      } else {
        await eachLine(input ?? Deno.stdin, (n, text, bytes, error) => {
          let msg: OutgoingMessage;
          try {
            if (error) throw new Error(error);
            msg = lineMessage(text, n, defaults, bytes);
          } catch (err) {
            return sender.fail(n, (err as Error).message);
          }
          return sender.send(n, msg);
        });
      }
      const s = await sender.finish();
      progress.done();
      if (wantsJson(args)) printJson(s);
      else console.error(`publish: ${formatCounts(s)}`);
      return s.failed > 0 ? EXIT.failure : EXIT.ok;
    } finally {
      progress.done();
      await publisher.close();
      await nc.close();
      try {
        input?.close();
      } catch { /* closed by reading to the end */ }
    }
  },
};
