/**
 * An append-only file with explicit durability and size-based rotation. `write()` only buffers;
 * `flush()` resolves once every buffered byte has been written to the file (and, with `fsync`,
 * synced to the disk). Callers that must not confirm anything before it is on disk (the monitor
 * acks after the line is written) wait for `flush()`; logtape's file sink cannot tell them that.
 *
 * Rotation happens between writes, never inside one: a chunk (a line, or a batch of lines given
 * as one chunk) always lands in a single file. `app.log` rotates to `app.log.1`, `app.log.1` to
 * `app.log.2`, ..., and files past `keep` are removed.
 * @module
 */
import { concatBytes } from "./bytes.ts";

/** Options of {@link openRotatingFile}. */
export interface RotatingFileOptions {
  /** Rotate before a write would take the live file past this many bytes. */
  maxSize: number;
  /** How many rotated files (`.1` ... `.keep`) to keep besides the live one. */
  keep: number;
  /** Sync data to the disk on every flush (survives an OS crash, not only a process crash). */
  fsync?: boolean;
}

/** A rotating append-only file; see the module doc. */
export interface RotatingFile {
  /** The live file's path. */
  readonly path: string;
  /** Buffers `chunk` (a string is UTF-8 encoded); nothing reaches the file before `flush()`. */
  write(chunk: string | Uint8Array): void;
  /** Bytes buffered and not yet flushed. */
  buffered(): number;
  /**
   * Writes everything buffered so far (rotating where needed) and resolves when it is in the
   * file (and synced, with `fsync`). Concurrent flushes run one after the other.
   */
  flush(): Promise<void>;
  /** Flushes and closes the file; further writes throw. */
  close(): Promise<void>;
}

/** A write to the log file failed (disk full, permissions, file removed, ...). */
export class RotatingFileError extends Error {
  /** Machine-readable code. */
  readonly code = "ROTATING_FILE_WRITE";
  /** Creates the error for `path`. */
  constructor(path: string, cause: unknown) {
    super(
      `cannot write ${path}: ${cause instanceof Error ? cause.message : cause}; ` +
        "check free space and permissions of its directory",
      { cause },
    );
    this.name = "RotatingFileError";
  }
}

const encoder = new TextEncoder();

/**
 * Writes `data` to `file` synchronously: a group of lines into the page cache takes microseconds,
 * less than the round trip through Deno's blocking-I/O pool an async write makes, which waits for
 * the event loop too (the monitor's write-and-sync per group took a third longer so). The sync
 * that follows stays asynchronous: it is the part that waits for the disk.
 */
function writeAllSync(file: Deno.FsFile, data: Uint8Array): void {
  for (let off = 0; off < data.length;) off += file.writeSync(data.subarray(off));
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

/** Shifts `path.N` to `path.N+1` (dropping the ones past `keep`) and `path` to `path.1`. */
async function shift(path: string, keep: number): Promise<void> {
  if (keep < 1) {
    await Deno.remove(path).catch(() => {});
    return;
  }
  await Deno.remove(`${path}.${keep}`).catch(() => {});
  for (let i = keep - 1; i >= 1; i--) {
    if (await exists(`${path}.${i}`)) await Deno.rename(`${path}.${i}`, `${path}.${i + 1}`);
  }
  await Deno.rename(path, `${path}.1`);
}

/** Opens (creating it and its directory if missing) a rotating file for appending. */
export async function openRotatingFile(
  path: string,
  options: RotatingFileOptions,
): Promise<RotatingFile> {
  const dir = path.replace(/[\\/][^\\/]*$/, "");
  if (dir && dir !== path) await Deno.mkdir(dir, { recursive: true });
  const open = () => Deno.open(path, { append: true, create: true });
  let file: Deno.FsFile | undefined = await open();
  let size = (await file.stat()).size;
  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  let chain: Promise<void> = Promise.resolve();
  let closed = false;

  async function writeOut(chunks: Uint8Array[]): Promise<void> {
    let group: Uint8Array[] = [];
    let groupBytes = 0;
    const emit = () => {
      if (groupBytes === 0) return;
      writeAllSync(file!, concatBytes(group, groupBytes));
      size += groupBytes;
      group = [];
      groupBytes = 0;
    };
    for (const chunk of chunks) {
      if (size + groupBytes > 0 && size + groupBytes + chunk.length > options.maxSize) {
        emit();
        if (options.fsync) await file!.sync();
        file!.close();
        file = undefined;
        await shift(path, options.keep);
        file = await open();
        size = 0;
      }
      group.push(chunk);
      groupBytes += chunk.length;
    }
    emit();
    if (options.fsync) await file!.sync();
  }

  const flush = (): Promise<void> => {
    const chunks = pending;
    pending = [];
    pendingBytes = 0;
    const run = chain.then(async () => {
      if (chunks.length === 0) return;
      if (!file) file = await open(); // a failed rotation left no file open: try again
      try {
        await writeOut(chunks);
      } catch (err) {
        throw new RotatingFileError(path, err);
      }
    });
    chain = run.catch(() => {});
    return run;
  };

  return {
    path,
    write(chunk) {
      if (closed) throw new RotatingFileError(path, new Error("file is closed"));
      const bytes = typeof chunk === "string" ? encoder.encode(chunk) : chunk;
      pending.push(bytes);
      pendingBytes += bytes.length;
    },
    buffered: () => pendingBytes,
    flush,
    async close() {
      if (closed) return;
      try {
        await flush();
      } finally {
        closed = true;
        file?.close();
        file = undefined;
      }
    },
  };
}
