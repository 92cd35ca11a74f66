/**
 * S3-compatible GET with SigV4.
 *
 * Plain `fetch` signed by `sigv4.ts` rather than `@aws-sdk/client-s3`: the response body is a web
 * `ReadableStream` that pipes straight through decryption into a file, with no Node stream shims;
 * the AWS SDK brings in ~100 modules (and its own retry layer we would have to switch off) for
 * the one call we make. (`aws4fetch`, used before, signs through async `crypto.subtle` calls,
 * which cost 3.5 ms per GET on the loaded bench machine; see `sigv4.ts`.)
 * @module
 */
import { sigV4Signer, uriEncode } from "./sigv4.ts";
import { permanent, retryable } from "./failure.ts";
import type { UploadProcessorConfig } from "./config.ts";

/** Resolved S3 settings: config first, then the usual `AWS_*` environment variables. */
export interface S3Settings {
  /** Base URL, e.g. `https://fly.storage.tigris.dev`. */
  endpoint: string;
  /** Signing region. */
  region: string;
  /** Access key id. */
  accessKeyId: string;
  /** Secret access key. */
  secretAccessKey: string;
  /** Session token for temporary credentials. */
  sessionToken?: string;
  /** `https://endpoint/bucket/key` rather than `https://bucket.endpoint/key`. */
  forcePathStyle: boolean;
}

/** Why S3 settings are incomplete (a config problem). */
export class S3ConfigError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "S3ConfigError";
  }
}

/** Resolves {@link S3Settings} from `roles.upload_processor.s3` and the environment. */
export function resolveS3Settings(
  cfg: UploadProcessorConfig["s3"],
  env: (name: string) => string | undefined = (n) => Deno.env.get(n),
): S3Settings {
  const region = cfg.region ?? env("AWS_REGION") ?? env("AWS_DEFAULT_REGION") ?? "auto";
  const endpoint = cfg.endpoint ?? env("AWS_ENDPOINT_URL_S3") ?? env("AWS_ENDPOINT_URL") ??
    `https://s3.${region === "auto" ? "us-east-1" : region}.amazonaws.com`;
  const accessKeyId = cfg.access_key_id ?? env("AWS_ACCESS_KEY_ID");
  const secretAccessKey = cfg.secret_access_key ?? env("AWS_SECRET_ACCESS_KEY");
  if (!accessKeyId || !secretAccessKey) {
    throw new S3ConfigError(
      "no S3 credentials: set roles.upload_processor.s3.access_key_id and secret_access_key, " +
        "or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
    );
  }
  return {
    endpoint: endpoint.replace(/\/+$/, ""),
    region,
    accessKeyId,
    secretAccessKey,
    sessionToken: cfg.session_token ?? env("AWS_SESSION_TOKEN"),
    forcePathStyle: cfg.force_path_style,
  };
}

/** Gets objects from one S3-compatible endpoint. */
export interface S3Getter {
  /**
   * GETs `bucket/key`; resolves with a 2xx response whose body the caller must consume or
   * cancel. Throws an {@link UploadFailure}: `object_missing` (404, permanent), `s3_error`
   * (retryable for 401/403/408/429/5xx and network errors, permanent for other 4xx).
   */
  get(bucket: string, key: string, signal?: AbortSignal): Promise<Response>;
  /** True when the endpoint answers HTTP at all (any status below 500): the breaker's probe. */
  probe(signal?: AbortSignal): Promise<boolean>;
}

/** Statuses that say the server (or a proxy in front of it) is down, not that a request is bad. */
export const OUTAGE_STATUSES: readonly number[] = [502, 503, 504];

/** How long a probe waits for an answer. */
const PROBE_TIMEOUT_MS = 5000;

/** True when `url` answers a HEAD with a status that is not an outage (shared by both probes). */
export async function answers(url: string, signal?: AbortSignal): Promise<boolean> {
  const timeout = AbortSignal.timeout(PROBE_TIMEOUT_MS);
  try {
    const res = await fetch(url, {
      method: "HEAD",
      redirect: "manual",
      signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
    });
    await res.body?.cancel();
    return !OUTAGE_STATUSES.includes(res.status);
  } catch {
    return false;
  }
}

/** The object URL for `bucket/key`, path-style or virtual-hosted. */
export function objectUrl(settings: S3Settings, bucket: string, key: string): string {
  // Encoded as SigV4's canonical path wants it, so the path sent is the path signed.
  const path = key.split("/").map(uriEncode).join("/");
  if (settings.forcePathStyle) return `${settings.endpoint}/${uriEncode(bucket)}/${path}`;
  const url = new URL(settings.endpoint);
  url.hostname = `${bucket}.${url.hostname}`;
  return `${url.origin}/${path}`;
}

/** Creates an {@link S3Getter} signing with SigV4. */
export function s3Getter(settings: S3Settings): S3Getter {
  // No retries here: they are the consumer's job (nak with backoff), not a hidden loop.
  const sign = sigV4Signer(settings);
  return {
    async get(bucket, key, signal) {
      const where = `s3://${bucket}/${key}`;
      let res: Response;
      try {
        const url = new URL(objectUrl(settings, bucket, key));
        res = await fetch(url, { headers: sign(url), signal });
      } catch (err) {
        const message = `GET ${where} failed: ${(err as Error).message}`;
        // A shutdown abort is not an outage; a refused or broken connection is.
        throw retryable("s3_error", message, signal?.aborted ? undefined : "s3");
      }
      if (res.ok) return res;
      const body = (await res.text().catch(() => "")).slice(0, 2000);
      const code = /<Code>([^<]+)<\/Code>/.exec(body)?.[1] ?? `HTTP ${res.status}`;
      if (res.status === 404) {
        throw permanent("object_missing", `${where} does not exist (${code})`);
      }
      const message = `GET ${where}: ${res.status} ${code}`;
      if ([401, 403, 408, 429].includes(res.status) || res.status >= 500) {
        throw retryable(
          "s3_error",
          res.status === 401 || res.status === 403
            ? `${message}; check roles.upload_processor.s3 credentials and bucket policy`
            : message,
          OUTAGE_STATUSES.includes(res.status) ? "s3" : undefined,
        );
      }
      throw permanent("s3_error", message);
    },
    probe: (signal) => answers(`${settings.endpoint}/`, signal),
  };
}
