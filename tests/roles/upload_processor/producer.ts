/**
 * The upload service's side, for tests: envelope-encrypts a file exactly as the producer does
 * (AES-256-GCM, `[12-byte IV][ciphertext][16-byte tag]` for both the data and the wrapped key)
 * and builds its event.
 * @module
 */

/** A 32-byte master key. */
export function newMasterKey(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(32));
}

/** Base64 of `bytes`. */
export function b64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

/** AES-256-GCM in the producer's layout. */
export async function seal(key: Uint8Array, plain: Uint8Array): Promise<Uint8Array> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const k = await crypto.subtle.importKey(
    "raw",
    key as Uint8Array<ArrayBuffer>,
    "AES-GCM",
    false,
    ["encrypt"],
  );
  const ct = new Uint8Array(
    await crypto.subtle.encrypt({ name: "AES-GCM", iv }, k, plain as Uint8Array<ArrayBuffer>),
  );
  const out = new Uint8Array(12 + ct.length);
  out.set(iv);
  out.set(ct, 12);
  return out;
}

/** An encrypted upload: the data object and its metadata document. */
export interface SealedUpload {
  /** `[IV][ciphertext][tag]`. */
  data: Uint8Array;
  /** The envelope metadata JSON. */
  metadata: string;
}

/** Encrypts `plain` with a fresh DEK wrapped by `masterKey`. */
export async function sealUpload(
  masterKey: Uint8Array,
  plain: Uint8Array,
  originalFilename: string,
): Promise<SealedUpload> {
  const dek = crypto.getRandomValues(new Uint8Array(32));
  const data = await seal(dek, plain);
  const metadata = JSON.stringify({
    version: "1.0",
    kek: b64(await seal(masterKey, dek)),
    algorithm: "AES-GCM-256",
    original_filename: originalFilename,
    original_size: plain.length,
    encrypted_size: data.length,
    verification_status: "VERIFIED",
    timestamp: Date.now(),
  });
  return { data, metadata };
}

/** An upload event as the producer sends it, with its keys. */
export function uploadEvent(email: string, filename: string, bucket: string) {
  const fileUuid = crypto.randomUUID();
  return {
    event_id: crypto.randomUUID(),
    email,
    file_uuid: fileUuid,
    s3_data_key: `uploads/${email}/${fileUuid}/${filename}.enc`,
    s3_metadata_key: `uploads/${email}/${fileUuid}/metadata.json`,
    bucket_name: bucket,
    timestamp: Date.now(),
  };
}
