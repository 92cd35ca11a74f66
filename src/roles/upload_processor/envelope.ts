/**
 * The producer's envelope encryption: a 32-byte master key wraps a per-file data key (DEK), both
 * with AES-256-GCM laid out as `[12-byte IV][ciphertext][16-byte tag]`.
 *
 * The DEK is small, so WebCrypto unwraps it in one shot. The data object can be 1 GB, and
 * WebCrypto's AES-GCM only decrypts whole buffers, so it is decrypted as a stream with
 * `node:crypto`'s `createDecipheriv("aes-256-gcm")` (native code in Deno, checked on 2.5): the last
 * 16 bytes are held back as they arrive, become the auth tag at the end, and `final()` throws
 * unless the tag matches. Callers only publish the output once the stream has ended cleanly.
 * @module
 */
import { createDecipheriv, type DecipherGCM } from "node:crypto";
import { permanent } from "./failure.ts";

const IV_LEN = 12;
const TAG_LEN = 16;
const KEY_LEN = 32;
const TAG_MISMATCH =
  "authentication tag mismatch: the object was altered or truncated, or the data key is wrong";

/** Why a master key could not be loaded (a config problem, not a message problem). */
export class MasterKeyError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "MasterKeyError";
  }
}

function decodeBase64(text: string): Uint8Array | undefined {
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(text)) return undefined;
  try {
    const std = text.replace(/-/g, "+").replace(/_/g, "/");
    return Uint8Array.from(atob(std), (c) => c.charCodeAt(0));
  } catch {
    return undefined;
  }
}

/**
 * Interprets key material: exactly 32 raw bytes, or base64 (standard or URL-safe) of 32 bytes.
 * `source` names where it came from, for the error (never the key itself).
 */
export function parseMasterKey(material: Uint8Array, source: string): Uint8Array {
  if (material.length === KEY_LEN) {
    const asText = new TextDecoder().decode(material).trim();
    // 32 bytes that are also valid base64 of 32 bytes cannot happen (that needs 44 chars).
    if (decodeBase64(asText)?.length !== KEY_LEN) return material;
  }
  const text = new TextDecoder().decode(material).trim();
  const decoded = decodeBase64(text);
  if (decoded?.length === KEY_LEN) return decoded;
  throw new MasterKeyError(
    `${source} does not hold a 32-byte master key (expected 32 raw bytes or their base64)`,
  );
}

/** Reads the master key from a file or an environment variable (config `decrypt`). */
export async function loadMasterKey(
  cfg: { master_key_file?: string; master_key_env?: string },
): Promise<Uint8Array> {
  if (cfg.master_key_file !== undefined) {
    let material: Uint8Array;
    try {
      material = await Deno.readFile(cfg.master_key_file);
    } catch (err) {
      throw new MasterKeyError(
        `cannot read decrypt.master_key_file ${cfg.master_key_file}: ${(err as Error).message}`,
      );
    }
    return parseMasterKey(material, `decrypt.master_key_file ${cfg.master_key_file}`);
  }
  const name = cfg.master_key_env!;
  const value = Deno.env.get(name);
  if (value === undefined || value === "") {
    throw new MasterKeyError(`environment variable ${name} (decrypt.master_key_env) is not set`);
  }
  return parseMasterKey(new TextEncoder().encode(value), `environment variable ${name}`);
}

/**
 * Unwraps a base64 `kek` (`[IV][encrypted DEK][tag]`) with the master key. A wrong master key or
 * altered metadata is a permanent `decrypt_failed`. Synchronous (`node:crypto`): the two
 * `crypto.subtle` calls it replaced were async hops to a worker thread, ~1 ms each per upload on
 * a busy machine, for 48 bytes of work.
 */
export function unwrapDataKey(kekBase64: string, masterKey: Uint8Array): Uint8Array {
  const kek = decodeBase64(kekBase64.trim());
  if (!kek || kek.length < IV_LEN + TAG_LEN + 1) {
    throw permanent("decrypt_failed", "metadata kek is not base64 of [IV][encrypted key][tag]");
  }
  let dek: Uint8Array;
  try {
    dek = openSealed(masterKey, kek);
  } catch {
    throw permanent(
      "decrypt_failed",
      "cannot unwrap the data key: wrong master key, or the metadata's kek was altered",
    );
  }
  if (dek.length !== KEY_LEN) {
    throw permanent("decrypt_failed", `the unwrapped data key has ${dek.length} bytes, not 32`);
  }
  return dek;
}

/** `[IV][ciphertext][tag]` to plaintext in one native call; throws when the tag does not verify. */
function openSealed(key: Uint8Array, sealed: Uint8Array): Uint8Array {
  const decipher = createDecipheriv("aes-256-gcm", key, sealed.subarray(0, IV_LEN));
  decipher.setAuthTag(sealed.subarray(sealed.length - TAG_LEN));
  const body = sealed.subarray(IV_LEN, sealed.length - TAG_LEN);
  const plain = concat(decipher.update(body), decipher.final());
  return new Uint8Array(plain.buffer, plain.byteOffset, plain.length); // not node's Buffer
}

/**
 * Decrypts a whole `[IV][ciphertext][tag]` object held in memory (a small one: one native call
 * instead of a stream's hops per chunk). Throws a permanent `decrypt_failed` as
 * {@link decryptStream} does.
 */
export function decryptWhole(dek: Uint8Array, sealed: Uint8Array): Uint8Array {
  if (sealed.length < IV_LEN + TAG_LEN) {
    throw permanent("decrypt_failed", "the encrypted object is too short ([IV][data][tag])");
  }
  try {
    return openSealed(dek, sealed);
  } catch {
    throw permanent("decrypt_failed", TAG_MISMATCH);
  }
}

/**
 * A stream that turns `[IV][ciphertext][tag]` into plaintext with constant memory. It errors with
 * a permanent `decrypt_failed` when the tag does not verify (tampered, truncated, wrong key);
 * plaintext written before that point must be discarded by the caller.
 */
export function decryptStream(dek: Uint8Array): TransformStream<Uint8Array, Uint8Array> {
  let header: Uint8Array = new Uint8Array(0);
  let decipher: DecipherGCM | undefined;
  let tail: Uint8Array = new Uint8Array(0); // the last TAG_LEN bytes seen so far: maybe the tag
  const emit = (ctl: TransformStreamDefaultController<Uint8Array>, ct: Uint8Array) => {
    if (ct.length === 0) return;
    const out = decipher!.update(ct);
    if (out.length) ctl.enqueue(new Uint8Array(out.buffer, out.byteOffset, out.length));
  };
  return new TransformStream({
    transform(chunk, ctl) {
      if (!decipher) {
        header = concat(header, chunk);
        if (header.length < IV_LEN) return;
        decipher = createDecipheriv("aes-256-gcm", dek, header.subarray(0, IV_LEN)) as DecipherGCM;
        chunk = header.subarray(IV_LEN);
      }
      if (chunk.length >= TAG_LEN) {
        emit(ctl, tail);
        emit(ctl, chunk.subarray(0, chunk.length - TAG_LEN));
        tail = chunk.slice(chunk.length - TAG_LEN);
      } else {
        const joined = concat(tail, chunk);
        emit(ctl, joined.subarray(0, Math.max(0, joined.length - TAG_LEN)));
        tail = joined.slice(Math.max(0, joined.length - TAG_LEN));
      }
    },
    flush(ctl) {
      if (!decipher || tail.length < TAG_LEN) {
        release();
        throw permanent("decrypt_failed", "the encrypted object is too short ([IV][data][tag])");
      }
      decipher.setAuthTag(tail);
      try {
        const out = decipher.final();
        if (out.length) ctl.enqueue(new Uint8Array(out));
      } catch {
        throw permanent("decrypt_failed", TAG_MISMATCH);
      }
    },
    // The stream was aborted (download broke off, shutdown): free the native cipher.
    cancel: release,
  });

  function release() {
    try {
      decipher?.final(); // without a valid tag this throws, and frees the cipher either way
    } catch { /* expected */ }
    decipher = undefined;
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  if (b.length === 0) return a;
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
