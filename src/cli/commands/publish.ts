/**
 * `jetport publish`: one message (`--data` or stdin) or many (`--file events.jsonl`) through the
 * windowed publisher, with progress and a summary of what the stream acknowledged.
 * @module
 */
import { headers as newHeaders, type MsgHdrs } from "@nats-io/nats-core";
import { type Command, EXIT } from "../command.ts";
import { stringFlag, UsageError } from "../args.ts";
import { CONFIG_HELP, loadBaseConfigFlag } from "../config_flag.ts";
import { type MessageLine, objectToHeaders, payloadBytes } from "../message_line.ts";
import { parseDuration } from "../../config/units.ts";
import { connectOnce } from "../../nats/connection.ts";
import { createPublisher, type OutgoingMessage, type Publisher } from "../../nats/publisher.ts";
import { startProgress } from "../../platform/progress.ts";
import { JSON_HELP, printJson, wantsJson } from "../json.ts";

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
    data: env ? payloadBytes(env) : bytes ?? text,
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

/** One non-blank line of a JSONL input. */
export interface Line {
  /** Its 1-based number. */
  n: number;
  /** Its text (without the line break); empty when it is not UTF-8. */
  text: string;
  /** Its bytes: the UTF-8 of `text`, a view into the read buffer. */
  bytes: Uint8Array;
  /** Set when the line cannot be read as text. */
  error?: string;
}

const NL = 0x0a;
const CR = 0x0d;
const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * The non-blank lines of a byte stream, one batch per read, so the caller awaits once per read
 * rather than once per line (each await lets the client flush a socket write of its own). The
 * whole lines of a read are decoded at once; when they are ASCII, byte offsets are character
 * offsets and a line's text is a slice of that. A trailing `\r` is dropped.
 */
export async function* lineBatches(stream: ReadableStream<Uint8Array>): AsyncGenerator<Line[]> {
  let carry: Uint8Array | undefined;
  let n = 0;
  for await (const chunk of stream) {
    const bytes = carry?.length ? concat(carry, chunk) : chunk;
    const end = bytes.lastIndexOf(NL) + 1;
    carry = bytes.subarray(end);
    if (end === 0) continue;
    const batch: Line[] = [];
    n = splitLines(bytes.subarray(0, end), n, batch);
    yield batch;
  }
  if (carry?.length) {
    const batch: Line[] = [];
    splitLines(carry, n, batch);
    yield batch;
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/**
 * Appends the non-blank lines of `region` (whole lines; the last may lack its `\n`) to `out`,
 * numbered after `n`; returns the number of the last line.
 */
function splitLines(region: Uint8Array, n: number, out: Line[]): number {
  let ascii: string | undefined;
  try {
    const text = utf8.decode(region);
    if (text.length === region.length) ascii = text;
  } catch { /* not UTF-8 somewhere: decoded line by line below, to name the line */ }
  let start = 0;
  while (start < region.length) {
    let end = region.indexOf(NL, start);
    const next = end < 0 ? region.length : end + 1;
    if (end < 0) end = region.length;
    if (end > start && region[end - 1] === CR) end--;
    n++;
    const bytes = region.subarray(start, end);
    let text = "";
    let error: string | undefined;
    if (ascii !== undefined) text = ascii.slice(start, end);
    else {
      try {
        text = utf8.decode(bytes);
      } catch {
        error = "not UTF-8 text";
      }
    }
    if (error || !isBlank(bytes, text)) out.push({ n, text, bytes, error });
    start = next;
  }
  return n;
}

/** Whether a line holds only white space (the first byte decides for most lines). */
function isBlank(bytes: Uint8Array, text: string): boolean {
  const first = bytes[0];
  if (first === undefined) return true;
  if (first > 0x20 && first < 0x80) return false;
  return text.trim() === "";
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

/** How many failures are named (on stderr, and in `--json`): a file full of them would drown the rest. */
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

/** How many messages the command keeps awaiting their PubAck. */
const WINDOW = 1024;

/**
 * Publishes every item of `batches` with backpressure, naming failures by `where`; resolves with
 * counts once every message is acknowledged or has failed. The items of a batch are sent in one
 * synchronous run until the window is full, so the client writes them to the socket together;
 * outcomes come back through callbacks (no promise per message: at 100k lines their garbage was
 * a large part of the command's time).
 */
async function publishAll<T>(
  publisher: Publisher,
  batches: AsyncIterable<T[]>,
  toMessage: (item: T) => OutgoingMessage,
  where: (item: T) => string,
  onDone: () => void = () => {},
): Promise<PublishSummary & { failures: PublishFailure[] }> {
  const summary = { published: 0, duplicates: 0, failed: 0, failures: [] as PublishFailure[] };
  let outstanding = 0;
  let drained: (() => void) | undefined;
  const fail = (item: T, why: string) => {
    summary.failed++;
    if (summary.failed <= NAMED_FAILURES) {
      const at = where(item);
      summary.failures.push({ where: at, message: why });
      console.error(`${at}: ${why}`);
    } else if (summary.failed === NAMED_FAILURES + 1) console.error("(more failures not shown)");
    onDone();
  };
  const settle = () => {
    if (--outstanding === 0) drained?.();
  };
  for await (const batch of batches) {
    for (const item of batch) {
      let msg: OutgoingMessage;
      try {
        msg = toMessage(item);
      } catch (err) {
        fail(item, (err as Error).message);
        continue;
      }
      if (publisher.inFlight >= WINDOW) await publisher.room();
      outstanding++;
      publisher.send(msg, (err, ack) => {
        if (err) fail(item, err.message);
        else {
          if (ack!.duplicate) summary.duplicates++;
          else summary.published++;
          onDone();
        }
        settle();
      });
    }
  }
  if (outstanding > 0) await new Promise<void>((r) => drained = r);
  return summary;
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
      const tick = () => progress.tick();
      const s = file === undefined
        ? await publishAll(publisher, single(data), (payload) => ({
          subject: subject!,
          data: payload,
          msgId: defaults.msgId,
          headers: withHeaders(undefined, defaults.headers),
        }), () =>
          "message", tick)
        : await publishAll(
          publisher,
          lineBatches(input?.readable ?? Deno.stdin.readable),
          (line) => {
            if (line.error) throw new Error(line.error);
            return lineMessage(line.text, line.n, defaults, line.bytes);
          },
          (line) => `${file}:${line.n}`,
          tick,
        );
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

async function* single(data: string | undefined): AsyncGenerator<string[]> {
  yield [data ?? await new Response(Deno.stdin.readable).text()];
}
