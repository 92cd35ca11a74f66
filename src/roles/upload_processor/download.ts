/**
 * Fetches one upload: its envelope metadata, then the data object streamed (and decrypted) into a
 * temp file under `download_dir`, renamed into place only once complete and verified. Memory stays
 * flat whatever the object's size: only objects up to 256 KiB are held (and verified) in memory,
 * then written into place at once.
 * @module
 */
import { dirname, join } from "node:path";
import { decryptStream, decryptWhole, unwrapDataKey } from "./envelope.ts";
import { type EnvelopeMetadata, parseEnvelopeMetadata, type UploadEvent } from "./event.ts";
import { asFailure, permanent, retryable } from "./failure.ts";
import { checkKey, localPath } from "./paths.ts";
import { holdPath, releasePath } from "./path_locks.ts";
import type { S3Getter } from "./s3.ts";

/** Metadata larger than this is not the producer's small JSON document. */
const MAX_METADATA_BYTES = 1024 * 1024;

/** Data objects up to this size are handled in memory (`placeSmall`): workers × this at most. */
const SMALL_OBJECT_BYTES = 256 * 1024;

/** What the download step produced. */
export interface Downloaded {
  /** Absolute path of the complete (decrypted) file. */
  path: string;
  /** The file name the uploader gave (from the metadata). */
  originalFilename: string;
  /** Bytes read from S3 for the data object. */
  bytes: number;
}

/** Settings for {@link download}. */
export interface DownloadOptions {
  /** Where files go. */
  downloadDir: string;
  /** The S3 client. */
  s3: S3Getter;
  /** The master key, when decryption is on. */
  masterKey?: Uint8Array;
  /** Aborts the transfer (shutdown). */
  signal?: AbortSignal;
  /** Called with each chunk's size as it arrives from S3 (metrics). */
  onBytes?: (n: number) => void;
  /**
   * Awaited before the complete file is moved into place; when it rejects, the file is dropped
   * and its rejection thrown. Lets the download overlap the dedupe claim while only the claim's
   * holder ever writes the final path (another delivery of the event may be working on it).
   */
  placeAfter?: Promise<unknown>;
}

async function getMetadata(event: UploadEvent, opts: DownloadOptions): Promise<EnvelopeMetadata> {
  const res = await opts.s3.get(event.bucket_name, event.s3_metadata_key, opts.signal);
  const declared = Number(res.headers.get("content-length") ?? 0);
  if (declared > MAX_METADATA_BYTES) {
    await res.body?.cancel();
    throw permanent("invalid_metadata", `metadata ${event.s3_metadata_key} is ${declared} bytes`);
  }
  let data: Uint8Array;
  try {
    data = new Uint8Array(await res.arrayBuffer());
  } catch (err) {
    const message = `reading ${event.s3_metadata_key}: ${(err as Error).message}`;
    throw retryable("s3_error", message, opts.signal?.aborted ? undefined : "s3");
  }
  return parseEnvelopeMetadata(data, event.s3_metadata_key);
}

/**
 * A data object's body that broke off while read: retryable, and an S3 outage unless the read
 * was aborted (shutdown).
 */
function brokeOff(key: string, err: unknown, signal?: AbortSignal) {
  const message = `download of ${key} broke off: ${(err as Error).message}`;
  return retryable("s3_error", message, signal?.aborted ? undefined : "s3");
}

/** Wraps an S3 body so read errors become retryable `s3_error`s and bytes are counted. */
function s3Body(
  body: ReadableStream<Uint8Array>,
  key: string,
  count: (n: number) => void,
  signal?: AbortSignal,
) {
  const reader = body.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(ctl) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (err) {
        throw brokeOff(key, err, signal);
      }
      if (chunk.done) ctl.close();
      else {
        count(chunk.value.length);
        ctl.enqueue(chunk.value);
      }
    },
    cancel: (reason) => reader.cancel(reason),
  });
}

/**
 * Creates `temp`; `dir` is made only when missing, which saves a syscall per upload (~0.5 ms on
 * the bench machine's busy disk). Async on purpose: these syscalls take milliseconds there, and
 * sync calls (tried) blocked the event loop for them, serializing every worker's file work.
 */
async function createTemp(temp: string, dir: string): Promise<Deno.FsFile> {
  const open = () => Deno.open(temp, { write: true, createNew: true });
  try {
    return await open();
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
    await Deno.mkdir(dir, { recursive: true });
    return await open();
  }
}

/**
 * Downloads (and decrypts) the upload described by `event`. Throws an `UploadFailure`; leaves no
 * partial file behind.
 */
export async function download(event: UploadEvent, opts: DownloadOptions): Promise<Downloaded> {
  checkKey(event.s3_data_key, "s3_data_key");
  checkKey(event.s3_metadata_key, "s3_metadata_key");
  // Both GETs go out at once: against a remote store that halves the time before the handler
  // runs. The data response waits unread until the metadata has been checked.
  const data = opts.s3.get(event.bucket_name, event.s3_data_key, opts.signal);
  data.catch(
    () => {/* handled where it is awaited; this keeps an early failure from being unhandled */},
  );
  let path: string, originalFilename: string, dek: Uint8Array | undefined;
  try {
    const metadata = await getMetadata(event, opts);
    originalFilename = metadata.original_filename;
    path = localPath(opts.downloadDir, event.file_uuid, originalFilename);
    dek = opts.masterKey ? unwrapDataKey(metadata.kek, opts.masterKey) : undefined;
  } catch (err) {
    // An aborted transfer's body is errored: cancelling it rejects, which is of no interest.
    data.then((res) => res.body?.cancel(), () => {}).catch(() => {});
    throw err;
  }
  // A failure removes the file's directory again when empty, by the claim's holder only: another
  // delivery of the event may be about to write into it.
  let made: Promise<void> | undefined;
  let bytes = 0;
  const counted = (n: number) => {
    bytes += n;
    opts.onBytes?.(n);
  };
  try {
    const res = await data;
    if (!res.body) throw retryable("s3_error", `GET ${event.s3_data_key} returned no body`);
    const small = Number(res.headers.get("content-length") ?? NaN) <= SMALL_OBJECT_BYTES;
    if (small) {
      await placeSmall(
        await readSmall(res, event.s3_data_key, counted, opts.signal),
        path,
        dek,
        opts,
      );
    } else {
      // Made while the body streams into its temporary file.
      made = Deno.mkdir(dirname(path), { recursive: true });
      made.catch(() => {/* awaited before the file is renamed into it */});
      const body = s3Body(res.body, event.s3_data_key, counted, opts.signal);
      await placeStreamed(body, event, path, dek, { ...opts, made });
    }
  } catch (err) {
    await made?.catch(() => {});
    const claimHeld = await (opts.placeAfter ?? Promise.resolve()).then(() => true, () => false);
    if (claimHeld) await Deno.remove(dirname(path)).catch(() => {/* not empty */});
    if (opts.signal?.aborted) throw retryable("shutdown", "download interrupted by shutdown");
    throw asFailure(err);
  }
  return { path, originalFilename, bytes };
}

/** How a streamed file is placed: as downloaded, once its directory is `made`. */
interface PlaceOptions extends DownloadOptions {
  /** The file's directory, being made. */
  made: Promise<void>;
}

/**
 * Reads a small object's whole body in one call: a stream wrapper and its reads per chunk were a
 * twentieth of the role's CPU at 1 KB per upload. Read errors become retryable `s3_error`s.
 */
async function readSmall(
  res: Response,
  key: string,
  count: (n: number) => void,
  signal?: AbortSignal,
): Promise<Uint8Array> {
  try {
    const body = new Uint8Array(await res.arrayBuffer());
    count(body.length);
    return body;
  } catch (err) {
    throw brokeOff(key, err, signal);
  }
}

/**
 * A small object is decrypted and verified in memory, then written straight into place: two fs
 * calls (mkdir, write) instead of five (open, write, close, mkdir, rename), and synchronous ones:
 * for a page-cache write of at most `SMALL_OBJECT_BYTES` the hop to Deno's blocking thread pool
 * costs more CPU than the syscalls (at 1 KB per upload on the bench machine, the async mkdir and
 * write were a tenth of the role's CPU). A crash during the write can leave a truncated file,
 * which the redelivery overwrites; the handler never sees it.
 */
async function placeSmall(
  sealed: Uint8Array,
  path: string,
  dek: Uint8Array | undefined,
  opts: DownloadOptions,
): Promise<void> {
  const plain = dek ? decryptWhole(dek, sealed) : sealed;
  await opts.placeAfter;
  await holding(path, opts.signal, async () => {
    try {
      Deno.mkdirSync(dirname(path), { recursive: true });
      Deno.writeFileSync(path, plain);
    } catch (err) {
      await Deno.remove(path).catch(() => {});
      throw err;
    }
  });
}

/** A larger object streams (decrypted) into a temp file, renamed into place once verified. */
async function placeStreamed(
  body: ReadableStream<Uint8Array>,
  event: UploadEvent,
  path: string,
  dek: Uint8Array | undefined,
  opts: PlaceOptions,
): Promise<void> {
  const partialDir = join(opts.downloadDir, ".partial");
  const temp = join(partialDir, `${event.event_id}-${crypto.randomUUID()}.part`);
  try {
    const file = await createTemp(temp, partialDir);
    const stream = dek ? body.pipeThrough(decryptStream(dek)) : body;
    await stream.pipeTo(file.writable, { signal: opts.signal });
    await opts.placeAfter;
    await opts.made;
    await holding(path, opts.signal, () => Deno.rename(temp, path));
  } catch (err) {
    await Deno.remove(temp).catch(() => {});
    throw err;
  }
}

/**
 * Places a file at `path` with `place`, once this download holds the path (`path_locks.ts`); the
 * path stays held until {@link removeDownload} or {@link keepDownload}, or is given up at once
 * if `place` fails.
 */
async function holding(path: string, signal: AbortSignal | undefined, place: () => Promise<void>) {
  await holdPath(path, signal);
  try {
    await place();
  } catch (err) {
    releasePath(path);
    throw err;
  }
}

/**
 * Removes a downloaded file, and its directory once no other file of the upload is in it; then
 * another download of the same path may place its file.
 */
export async function removeDownload(file: string): Promise<void> {
  await Deno.remove(file).catch(() => {});
  await Deno.remove(dirname(file)).catch(() => {/* not empty: another file of the upload */});
  releasePath(file);
}

/**
 * Leaves a downloaded file in place (`keep_files`), for another download of its path to replace.
 */
export function keepDownload(file: string): void {
  releasePath(file);
}
