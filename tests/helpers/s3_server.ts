/**
 * A real S3-compatible server for tests: `s3rver` (npm), run in its own Deno child process on a
 * free loopback port with a temp directory, plus a SigV4-signing client to put objects.
 *
 * s3rver speaks the S3 REST API (path-style and virtual-host, XML errors such as `NoSuchKey`) and
 * rejects unknown access key ids, but does not check SigV4 signatures. So by default a proxy in
 * front of it does, as S3 does ({@link verifySigV4}): it rebuilds the canonical request from what
 * arrived, derives the signing key from the secret, and answers 403 `SignatureDoesNotMatch` (or
 * `InvalidAccessKeyId`, `AccessDenied` for a missing or stale signature) before anything reaches
 * s3rver. A test that gets an object through it has proved the request was correctly signed.
 *
 * Run as a program (`deno run -A s3_server.ts DIR PORT verify|plain BUCKET...`) it is the server:
 * it prints `{"port": N}` once listening and stops on SIGTERM.
 * @module
 */
import { createHash, createHmac } from "node:crypto";
import { AwsClient } from "aws4fetch";
import { freePort } from "./nats_server.ts";

/** The credentials s3rver knows by default. */
export const S3_ACCESS_KEY_ID = "S3RVER";
/** The secret of {@link S3_ACCESS_KEY_ID}. */
export const S3_SECRET_ACCESS_KEY = "S3RVER";

/** A running test S3 server. */
export interface S3Server extends AsyncDisposable {
  /** `http://127.0.0.1:<port>`. */
  endpoint: string;
  /** The running process's id (undefined while stopped): benchmarks read its CPU time. */
  readonly pid: number | undefined;
  /** Stores an object (signed PUT). */
  put(bucket: string, key: string, body: Uint8Array | string): Promise<void>;
  /** Stops the server process, keeping its data (an outage: connections are refused). */
  stop(): Promise<void>;
  /** Starts it again after {@link stop}, on the same port with the same data. */
  restart(): Promise<void>;
  /** Stops the server and removes its data. */
  close(): Promise<void>;
}

/**
 * Starts s3rver with `buckets` created, behind the signature-checking proxy unless
 * `verifySignatures` is false (benchmarks: the proxy doubles the server's work per request).
 */
export async function startS3Server(
  buckets: string[],
  { verifySignatures = true } = {},
): Promise<S3Server> {
  const dir = await Deno.makeTempDir({ prefix: "jetport-s3-" });
  const port = freePort();
  const mode = verifySignatures ? "verify" : "plain";
  const spawn = async () => {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", new URL(import.meta.url).pathname, dir, String(port), mode, ...buckets],
      stdout: "piped",
      stderr: "inherit",
      cwd: new URL("../../", import.meta.url).pathname,
    }).spawn();
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let out = "";
    while (!out.includes("\n")) {
      const { done, value } = await reader.read();
      if (done) throw new Error(`s3rver exited before listening: ${out}`);
      out += value;
    }
    reader.releaseLock();
    child.stdout.cancel().catch(() => {});
    return child;
  };
  let child: Deno.ChildProcess | undefined = await spawn();
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new AwsClient({
    accessKeyId: S3_ACCESS_KEY_ID,
    secretAccessKey: S3_SECRET_ACCESS_KEY,
    service: "s3",
    region: "us-east-1",
    retries: 0,
  });
  const stop = async () => {
    const running = child;
    child = undefined;
    if (!running) return;
    try {
      running.kill("SIGTERM");
    } catch { /* gone */ }
    await running.status;
  };
  const close = async () => {
    await stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  return {
    endpoint,
    get pid() {
      return child?.pid;
    },
    async put(bucket, key, body) {
      const path = key.split("/").map(encodeURIComponent).join("/");
      // aws4fetch's types take Node's BodyInit; Deno's fetch takes the bytes as they are.
      const init = { method: "PUT", body } as unknown as Parameters<AwsClient["fetch"]>[1];
      const res = await client.fetch(`${endpoint}/${bucket}/${path}`, init);
      const text = await res.text();
      if (!res.ok) throw new Error(`PUT ${bucket}/${key}: ${res.status} ${text}`);
    },
    stop,
    async restart() {
      child ??= await spawn();
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** A request as the verifier sees it. */
export interface SignedRequest {
  /** HTTP method. */
  method: string;
  /** The URL as received (path and query still percent-encoded). */
  url: string;
  /** Request headers. */
  headers: Headers;
  /** Hex SHA-256 of the body. */
  bodySha256: string;
}

/** Why a request was refused: the S3 error code, and a message. */
export interface SigV4Failure {
  /** `AccessDenied`, `InvalidAccessKeyId`, `SignatureDoesNotMatch`, `RequestTimeTooSkewed`... */
  code: string;
  /** What is wrong. */
  message: string;
}

/** RFC 3986 encoding as SigV4 wants it: everything but `A-Za-z0-9-._~` as `%XX`. */
function uriEncode(text: string): string {
  return encodeURIComponent(text).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

const hmac = (key: string | Uint8Array, data: string): Uint8Array =>
  createHmac("sha256", key).update(data).digest();
const sha256 = (data: string) => createHash("sha256").update(data).digest("hex");

/**
 * Verifies an `Authorization: AWS4-HMAC-SHA256 ...` header the way S3 does (AWS Signature
 * Version 4, header form): canonical request (method, each path segment decoded then
 * URI-encoded, sorted and encoded query, the signed headers lower-cased with trimmed values, the
 * payload hash), string to sign (algorithm, `x-amz-date`, scope, hash of the canonical request),
 * signing key `HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")`.
 * Returns undefined when the signature matches. `now` bounds the clock skew (15 minutes).
 */
export function verifySigV4(
  req: SignedRequest,
  secrets: Record<string, string>,
  now: Date = new Date(),
): SigV4Failure | undefined {
  const auth = req.headers.get("authorization") ?? "";
  const m =
    /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/
      .exec(auth);
  if (!m) return { code: "AccessDenied", message: "no AWS4-HMAC-SHA256 Authorization header" };
  const [, keyId, date, region, service, signedHeaders, signature] = m;
  const secret = secrets[keyId];
  if (secret === undefined) {
    return { code: "InvalidAccessKeyId", message: `unknown access key id ${keyId}` };
  }
  const amzDate = req.headers.get("x-amz-date") ?? "";
  const names = signedHeaders.split(";");
  if (!names.includes("host") || !names.includes("x-amz-date") || !/^\d{8}T\d{6}Z$/.test(amzDate)) {
    return { code: "AccessDenied", message: "host and x-amz-date must be signed" };
  }
  if (amzDate.slice(0, 8) !== date) {
    return { code: "SignatureDoesNotMatch", message: "credential date is not x-amz-date's" };
  }
  const at = Date.UTC(
    +amzDate.slice(0, 4),
    +amzDate.slice(4, 6) - 1,
    +amzDate.slice(6, 8),
    +amzDate.slice(9, 11),
    +amzDate.slice(11, 13),
    +amzDate.slice(13, 15),
  );
  if (Math.abs(now.getTime() - at) > 15 * 60_000) {
    return { code: "RequestTimeTooSkewed", message: `x-amz-date ${amzDate} is off by > 15 min` };
  }
  const payloadHash = req.headers.get("x-amz-content-sha256");
  if (!payloadHash) return { code: "InvalidRequest", message: "x-amz-content-sha256 missing" };
  if (payloadHash !== "UNSIGNED-PAYLOAD" && payloadHash !== req.bodySha256) {
    return { code: "XAmzContentSHA256Mismatch", message: "the body is not what was signed" };
  }
  const url = new URL(req.url);
  const path = url.pathname.split("/").map((seg) => uriEncode(decodeURIComponent(seg))).join("/");
  const query = [...url.searchParams]
    .map(([k, v]) => [uriEncode(k), uriEncode(v)])
    .sort(([k1, v1], [k2, v2]) => (k1 < k2 ? -1 : k1 > k2 ? 1 : v1 < v2 ? -1 : v1 > v2 ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join("&");
  const headerLines = names.map((n) =>
    `${n}:${(req.headers.get(n) ?? "").trim().replace(/\s+/g, " ")}\n`
  ).join("");
  const canonical = [req.method, path, query, headerLines, signedHeaders, payloadHash].join("\n");
  const scope = `${date}/${region}/${service}/aws4_request`;
  const toSign = ["AWS4-HMAC-SHA256", amzDate, scope, sha256(canonical)].join("\n");
  const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, date), region), service), "aws4_request");
  const expected = createHmac("sha256", key).update(toSign).digest("hex");
  if (expected !== signature) {
    return {
      code: "SignatureDoesNotMatch",
      message: "The request signature we calculated does not match the signature you provided",
    };
  }
  return undefined;
}

/** Serves on `port`, verifying each request's signature before passing it to `upstream`. */
function signatureProxy(port: number, upstream: string): void {
  const secrets = { [S3_ACCESS_KEY_ID]: S3_SECRET_ACCESS_KEY };
  Deno.serve({ hostname: "127.0.0.1", port, onListen() {} }, async (req) => {
    const body = req.body ? new Uint8Array(await req.arrayBuffer()) : undefined;
    const failure = verifySigV4({
      method: req.method,
      url: req.url,
      headers: req.headers,
      bodySha256: createHash("sha256").update(body ?? new Uint8Array()).digest("hex"),
    }, secrets);
    if (failure) {
      const xml = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${failure.code}</Code>` +
        `<Message>${failure.message}</Message></Error>`;
      return new Response(xml, { status: 403, headers: { "content-type": "application/xml" } });
    }
    const url = new URL(req.url);
    const headers = new Headers(req.headers);
    headers.delete("host");
    return await fetch(`${upstream}${url.pathname}${url.search}`, {
      method: req.method,
      headers,
      body,
      redirect: "manual",
    });
  });
}

if (import.meta.main) {
  const { default: S3rver } = await import("s3rver");
  const [directory, port, mode, ...buckets] = Deno.args;
  const inner = mode === "verify" ? freePort() : Number(port);
  const server = new S3rver({
    address: "127.0.0.1",
    port: inner,
    silent: true,
    directory,
    configureBuckets: buckets.map((name) => ({ name })),
  });
  await server.run();
  if (mode === "verify") signatureProxy(Number(port), `http://127.0.0.1:${inner}`);
  console.log(JSON.stringify({ port: Number(port) }));
  // Exit at once: a graceful shutdown would wait for the clients' idle keep-alive connections to
  // the proxy (a test's fetch pool holds them for up to 90 s), and the store is a temp dir anyway.
  Deno.addSignalListener("SIGTERM", () => Deno.exit(0));
}
