/**
 * AWS Signature Version 4 for the role's one request, an S3 GET (header form, unsigned payload).
 * Synchronous, on `node:crypto`: `aws4fetch` signs with `crypto.subtle`, whose every call is an
 * async hop to a worker thread; two of them per request cost 3.5 ms per GET on the loaded 2-core
 * bench machine (the 1 KB upload's whole download took 10 ms). Here signing is a few µs, and the
 * signing key is derived once per day and region.
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

/** Signs GETs with `creds`; `url`'s path must already be {@link uriEncode}d per segment. */
export function sigV4Signer(creds: SigV4Credentials): (url: URL, now?: Date) => Headers {
  let keyDate = "";
  let key: Uint8Array = new Uint8Array();
  return (url, now = new Date()) => {
    const amzDate = now.toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
    const date = amzDate.slice(0, 8);
    if (date !== keyDate) {
      const kDate = hmac(`AWS4${creds.secretAccessKey}`, date);
      key = hmac(hmac(hmac(kDate, creds.region), "s3"), "aws4_request");
      keyDate = date;
    }
    const headers: [string, string][] = [
      ["host", url.host],
      ["x-amz-content-sha256", "UNSIGNED-PAYLOAD"],
      ["x-amz-date", amzDate],
    ];
    if (creds.sessionToken) headers.push(["x-amz-security-token", creds.sessionToken]);
    const signed = headers.map(([n]) => n).join(";");
    const query = [...url.searchParams]
      .map(([k, v]) => `${uriEncode(k)}=${uriEncode(v)}`)
      .sort()
      .join("&");
    const canonical = [
      "GET",
      url.pathname,
      query,
      headers.map(([n, v]) => `${n}:${v}\n`).join(""),
      signed,
      "UNSIGNED-PAYLOAD",
    ].join("\n");
    const scope = `${date}/${creds.region}/s3/aws4_request`;
    const toSign = [
      "AWS4-HMAC-SHA256",
      amzDate,
      scope,
      createHash("sha256").update(canonical).digest("hex"),
    ].join("\n");
    const signature = createHmac("sha256", key).update(toSign).digest("hex");
    const out = new Headers(headers.filter(([n]) => n !== "host"));
    out.set(
      "authorization",
      `AWS4-HMAC-SHA256 Credential=${creds.accessKeyId}/${scope}, SignedHeaders=${signed}, ` +
        `Signature=${signature}`,
    );
    return out;
  };
}
