/**
 * AWS Signature Version 4 for the role's one request, an S3 GET (header form, unsigned payload).
 * Synchronous, on `node:crypto`: `aws4fetch` signs with `crypto.subtle`, whose every call is an
 * async hop to a worker thread; two of them per request cost 3.5 ms per GET on the loaded 2-core
 * bench machine (the 1 KB upload's whole download took 10 ms). The signing key is derived once
 * per day and region, and its HMAC pads once with it: the per-request HMAC is two `createHash`
 * calls, because a `createHmac` object (a Node stream in Deno) cost seven times as much.
 * @module
 */
import { createHash, createHmac } from "node:crypto";

/** What signing needs. */
export interface SigV4Credentials {
  /** Signing region. */
  region: string;
  /** Access key id. */
  accessKeyId: string;
  /** Secret access key. */
  secretAccessKey: string;
  /** Session token for temporary credentials (sent and signed as `x-amz-security-token`). */
  sessionToken?: string;
}

/** RFC 3986 encoding as SigV4 wants it: everything but `A-Za-z0-9-._~` as `%XX`. */
export function uriEncode(text: string): string {
  return encodeURIComponent(text).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

const hmac = (key: string | Uint8Array, data: string) =>
  createHmac("sha256", key).update(data).digest();

/** SHA-256's block size: HMAC pads its key to it. */
const BLOCK_BYTES = 64;

/** A key's HMAC pads (RFC 2104), for keys up to {@link BLOCK_BYTES} long. */
function hmacPads(key: Uint8Array): { inner: Uint8Array; outer: Uint8Array } {
  const inner = new Uint8Array(BLOCK_BYTES).fill(0x36);
  const outer = new Uint8Array(BLOCK_BYTES).fill(0x5c);
  for (let i = 0; i < key.length; i++) {
    inner[i] ^= key[i];
    outer[i] ^= key[i];
  }
  return { inner, outer };
}

/** HMAC-SHA256 of `data` under the key whose `pads` are given, as hex. */
function hmacHex(pads: { inner: Uint8Array; outer: Uint8Array }, data: string): string {
  const inner = createHash("sha256").update(pads.inner).update(data).digest();
  return createHash("sha256").update(pads.outer).update(inner).digest("hex");
}

/** `x-amz-date` of `ms` (`20130524T000000Z`). */
function amzDateOf(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]|\.\d{3}/g, "");
}

/**
 * Signs GETs with `creds`; `url`'s path must already be {@link uriEncode}d per segment. Returns
 * the headers to send (a plain record: `fetch` copies it without a `Headers` object's checks).
 */
export function sigV4Signer(
  creds: SigV4Credentials,
): (url: URL, now?: Date) => Record<string, string> {
  let keyDate = "";
  let pads = hmacPads(new Uint8Array());
  let second = NaN;
  let amzDate = "";
  return (url, now = new Date()) => {
    // Requests within one second share their date string.
    const at = Math.floor(now.getTime() / 1000);
    if (at !== second) {
      amzDate = amzDateOf(at * 1000);
      second = at;
    }
    const date = amzDate.slice(0, 8);
    if (date !== keyDate) {
      const kDate = hmac(`AWS4${creds.secretAccessKey}`, date);
      pads = hmacPads(hmac(hmac(hmac(kDate, creds.region), "s3"), "aws4_request"));
      keyDate = date;
    }
    const token = creds.sessionToken;
    const signed = token
      ? "host;x-amz-content-sha256;x-amz-date;x-amz-security-token"
      : "host;x-amz-content-sha256;x-amz-date";
    const query = url.search === "" ? "" : [...url.searchParams]
      .map(([k, v]) => `${uriEncode(k)}=${uriEncode(v)}`)
      .sort()
      .join("&");
    const canonical = `GET\n${url.pathname}\n${query}\nhost:${url.host}\n` +
      `x-amz-content-sha256:UNSIGNED-PAYLOAD\nx-amz-date:${amzDate}\n` +
      (token ? `x-amz-security-token:${token}\n` : "") + `\n${signed}\nUNSIGNED-PAYLOAD`;
    const scope = `${date}/${creds.region}/s3/aws4_request`;
    const toSign = `AWS4-HMAC-SHA256\n${amzDate}\n${scope}\n` +
      createHash("sha256").update(canonical).digest("hex");
    const headers: Record<string, string> = {
      "x-amz-content-sha256": "UNSIGNED-PAYLOAD",
      "x-amz-date": amzDate,
      authorization: `AWS4-HMAC-SHA256 Credential=${creds.accessKeyId}/${scope}, ` +
        `SignedHeaders=${signed}, Signature=${hmacHex(pads, toSign)}`,
    };
    if (token) headers["x-amz-security-token"] = token;
    return headers;
  };
}
