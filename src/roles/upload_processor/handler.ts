/**
 * The two handler kinds that process a downloaded file: `exec` (a command, never a shell) and
 * `http` (a POST to a URL). Both turn the outcome into success or an `UploadFailure`. Without a
 * handler the role only downloads: the kept file is the output, for a service that picks it up
 * from the result event.
 * @module
 */
import type { HandlerConfig } from "./config.ts";
import type { UploadEvent } from "./event.ts";
import { permanent, retryable } from "./failure.ts";
import { answers, OUTAGE_STATUSES } from "./s3.ts";

/** One file to process. */
export interface HandlerJob {
  /** The upload event. */
  event: UploadEvent;
  /** Absolute path of the downloaded (decrypted) file. */
  file: string;
  /** The file name the uploader gave. */
  originalFilename: string;
  /** How many times this event has been delivered (1 on the first attempt). */
  deliveries: number;
}

/** What a successful handler reported. */
export interface HandlerResult {
  /** Where the handler put its output, if it said (last stdout line / response JSON). */
  outputPath?: string;
}

/** Runs a handler on a job; `signal` aborts it (shutdown past the grace deadline). */
export type Handler = (job: HandlerJob, signal: AbortSignal) => Promise<HandlerResult>;

/** Environment variables the exec handler keeps from the daemon's; everything else (credentials
 * included) is withheld, so a handler only sees what the config gives it. */
const KEPT_ENV = ["PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "SYSTEMROOT", "USER"];

/** Time a killed handler gets between SIGTERM and SIGKILL. */
const KILL_GRACE_MS = 5000;

/** Creates the handler the config describes; none: the downloaded file is the output. */
export function createHandler(cfg: HandlerConfig | undefined): Handler {
  if (!cfg) return () => Promise.resolve({});
  return "exec" in cfg ? execHandler(cfg) : httpHandler(cfg);
}

/**
 * The breaker's probe of the handler: only an `http` handler can be down (refusing connections,
 * 502/503/504); it is up again when its URL answers a HEAD with anything else.
 */
export function handlerProbe(
  cfg: HandlerConfig | undefined,
): (signal?: AbortSignal) => Promise<boolean> {
  return cfg && "http" in cfg
    ? (signal) => answers(cfg.http.url, signal)
    : () => Promise.resolve(true);
}

/** Placeholder values: each replaces an argument that is exactly `{name}`. */
export function placeholders(job: HandlerJob): Record<string, string> {
  return {
    "{file}": job.file,
    "{event_id}": job.event.event_id,
    "{email}": job.event.email,
    "{file_uuid}": job.event.file_uuid,
    "{original_filename}": job.originalFilename,
  };
}

/** `argv` with whole-argument placeholders substituted; other arguments pass unchanged. */
export function substitute(argv: readonly string[], job: HandlerJob): string[] {
  const values = placeholders(job);
  return argv.map((arg) => Object.hasOwn(values, arg) ? values[arg] : arg);
}

/** The event (plus file and attempt) as `JETPORT_*` environment variables. */
export function eventEnv(job: HandlerJob): Record<string, string> {
  const e = job.event;
  return {
    JETPORT_EVENT_ID: e.event_id,
    JETPORT_EMAIL: e.email,
    JETPORT_FILE_UUID: e.file_uuid,
    JETPORT_S3_DATA_KEY: e.s3_data_key,
    JETPORT_S3_METADATA_KEY: e.s3_metadata_key,
    JETPORT_BUCKET_NAME: e.bucket_name,
    JETPORT_TIMESTAMP: String(e.timestamp),
    JETPORT_FILE: job.file,
    JETPORT_ORIGINAL_FILENAME: job.originalFilename,
    JETPORT_DELIVERIES: String(job.deliveries),
  };
}

/** Reads a stream to its end, keeping only the last `max` bytes. */
async function tail(stream: ReadableStream<Uint8Array>, max = 4096): Promise<string> {
  let kept = new Uint8Array(0);
  for await (const chunk of stream) {
    const joined = new Uint8Array(kept.length + chunk.length);
    joined.set(kept);
    joined.set(chunk, kept.length);
    kept = joined.slice(Math.max(0, joined.length - max));
  }
  return new TextDecoder().decode(kept);
}

/** The `output_path` of a JSON object in `text` (the last line for exec), if any. */
export function reportedOutputPath(text: string): string | undefined {
  const last = text.trim().split("\n").pop()?.trim() ?? "";
  if (!last.startsWith("{")) return undefined;
  try {
    const value = JSON.parse(last)?.output_path;
    return typeof value === "string" && value !== "" ? value : undefined;
  } catch {
    return undefined;
  }
}

function execHandler(cfg: Extract<HandlerConfig, { exec: string[] }>): Handler {
  return async (job, signal) => {
    const [cmd, ...args] = substitute(cfg.exec, job);
    const env: Record<string, string> = {};
    for (const name of KEPT_ENV) {
      const v = Deno.env.get(name);
      if (v !== undefined) env[name] = v;
    }
    let child: Deno.ChildProcess;
    try {
      child = new Deno.Command(cmd, {
        args,
        clearEnv: true,
        env: { ...env, ...cfg.env, ...eventEnv(job) },
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
    } catch (err) {
      // Most likely a missing or non-executable program: fixable by the operator, so retried.
      throw retryable("handler_failed", `cannot start ${cmd}: ${(err as Error).message}`);
    }
    const stdout = tail(child.stdout, 64 * 1024);
    const stderr = tail(child.stderr);
    const writer = child.stdin.getWriter();
    writer.write(new TextEncoder().encode(JSON.stringify(job.event) + "\n"))
      .then(() => writer.close())
      .catch(() => {/* the handler need not read stdin */});

    let killedFor: "timeout" | "shutdown" | undefined;
    const kill = (why: "timeout" | "shutdown") => {
      killedFor ??= why;
      try {
        child.kill("SIGTERM");
      } catch { /* already exited */ }
      hardKill ??= setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch { /* already exited */ }
      }, KILL_GRACE_MS);
    };
    let hardKill: ReturnType<typeof setTimeout> | undefined;
    const timer = setTimeout(() => kill("timeout"), cfg.timeout);
    const onAbort = () => kill("shutdown");
    signal.addEventListener("abort", onAbort);
    if (signal.aborted) onAbort();
    const status = await child.status;
    clearTimeout(timer);
    clearTimeout(hardKill);
    signal.removeEventListener("abort", onAbort);
    const [out, err] = await Promise.all([stdout, stderr]);
    const detail = err.trim() ? `; stderr: ${err.trim().slice(-500)}` : "";

    if (killedFor === "shutdown") throw retryable("shutdown", `${cmd} stopped by shutdown`);
    if (killedFor === "timeout") {
      throw retryable("handler_timeout", `${cmd} ran longer than ${cfg.timeout} ms and was killed`);
    }
    if (status.success) return { outputPath: reportedOutputPath(out) };
    if (status.signal) {
      throw retryable("handler_failed", `${cmd} was killed by ${status.signal}${detail}`);
    }
    if (cfg.retry_exit_codes.includes(status.code)) {
      throw retryable("handler_failed", `${cmd} exited ${status.code} (try later)${detail}`);
    }
    throw permanent("handler_failed", `${cmd} exited ${status.code}${detail}`);
  };
}

/** A multipart/form-data body: the event JSON, then the file streamed from disk. */
async function multipart(
  job: HandlerJob,
): Promise<{ body: ReadableStream; type: string; close(): Promise<void> }> {
  const boundary = `jetport-${crypto.randomUUID()}`;
  const enc = new TextEncoder();
  const quoted = job.originalFilename.replace(/["\\\r\n]/g, "_");
  const head = enc.encode(
    `--${boundary}\r\nContent-Disposition: form-data; name="event"\r\n` +
      `Content-Type: application/json\r\n\r\n${JSON.stringify(job.event)}\r\n` +
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${quoted}"\r\n` +
      `Content-Type: application/octet-stream\r\n\r\n`,
  );
  const end = enc.encode(`\r\n--${boundary}--\r\n`);
  // The file is read with explicit reads (not `file.readable`, which reads ahead) so that a
  // request that fails midway can wait for the one read in progress and then close the file.
  const file = await Deno.open(job.file, { read: true });
  let reading: Promise<number | null> | undefined;
  let open = true;
  const close = async () => {
    await reading?.catch(() => null);
    if (open) file.close();
    open = false;
  };
  let stage = 0;
  const body = new ReadableStream<Uint8Array>({
    async pull(ctl) {
      if (stage === 0) {
        stage = 1;
        return ctl.enqueue(head);
      }
      if (stage === 1) {
        const buf = new Uint8Array(64 * 1024);
        reading = file.read(buf);
        const n = await reading;
        if (n !== null) return ctl.enqueue(buf.subarray(0, n));
        stage = 2;
        await close();
        ctl.enqueue(end);
        return ctl.close();
      }
    },
    cancel: close,
  });
  return { body, type: `multipart/form-data; boundary=${boundary}`, close };
}

function httpHandler(cfg: Extract<HandlerConfig, { http: unknown }>): Handler {
  const { url, headers, send } = cfg.http;
  return async (job, signal) => {
    const timeout = AbortSignal.timeout(cfg.timeout);
    const both = AbortSignal.any([signal, timeout]);
    let init: RequestInit;
    let release = () => Promise.resolve();
    if (send === "file") {
      const { body, type, close } = await multipart(job);
      init = { body, headers: { ...headers, "content-type": type } };
      release = close;
    } else {
      const payload = { ...job.event, file: job.file, original_filename: job.originalFilename };
      init = {
        body: JSON.stringify(payload),
        headers: { ...headers, "content-type": "application/json" },
      };
    }
    let res: Response;
    let text: string;
    try {
      res = await fetch(url, { ...init, method: "POST", signal: both, redirect: "manual" });
      text = await res.text();
    } catch (err) {
      if (signal.aborted) throw retryable("shutdown", `POST ${url} stopped by shutdown`);
      if (timeout.aborted) {
        throw retryable("handler_timeout", `POST ${url} took longer than ${cfg.timeout} ms`);
      }
      throw retryable("handler_failed", `POST ${url} failed: ${(err as Error).message}`, "handler");
    } finally {
      await release();
    }
    if (res.ok) return { outputPath: reportedOutputPath(text) };
    const detail = `POST ${url}: ${res.status} ${text.trim().slice(0, 300)}`;
    if (OUTAGE_STATUSES.includes(res.status)) throw retryable("handler_failed", detail, "handler");
    if (res.status === 429 || res.status >= 500) throw retryable("handler_failed", detail);
    throw permanent("handler_failed", detail);
  };
}
