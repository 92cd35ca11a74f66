/**
 * A real S3-compatible server for tests: `s3rver` (npm), run in its own Deno child process on a
 * free loopback port with a temp directory, plus a SigV4-signing client to put objects.
 *
 * s3rver speaks the S3 REST API (path-style and virtual-host, XML errors such as `NoSuchKey`) and
 * rejects unknown access key ids, but does not check SigV4 signatures themselves; jetport signs
 * with `aws4fetch`, whose signing is tested upstream against AWS's test suite.
 *
 * Run as a program (`deno run -A s3_server.ts DIR BUCKET...`) it is the server: it prints
 * `{"port": N}` once listening and stops on SIGTERM.
 * @module
 */
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
  /** Stores an object (signed PUT). */
  put(bucket: string, key: string, body: Uint8Array | string): Promise<void>;
  /** Stops the server and removes its data. */
  close(): Promise<void>;
}

/** Starts s3rver with `buckets` created. */
export async function startS3Server(buckets: string[]): Promise<S3Server> {
  const dir = await Deno.makeTempDir({ prefix: "jetport-s3-" });
  const port = freePort();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL(import.meta.url).pathname, dir, String(port), ...buckets],
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
  const endpoint = `http://127.0.0.1:${JSON.parse(out.split("\n")[0]).port}`;
  const client = new AwsClient({
    accessKeyId: S3_ACCESS_KEY_ID,
    secretAccessKey: S3_SECRET_ACCESS_KEY,
    service: "s3",
    region: "us-east-1",
    retries: 0,
  });
  const close = async () => {
    try {
      child.kill("SIGTERM");
    } catch { /* gone */ }
    await child.status;
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  return {
    endpoint,
    async put(bucket, key, body) {
      const path = key.split("/").map(encodeURIComponent).join("/");
      // aws4fetch's types take Node's BodyInit; Deno's fetch takes the bytes as they are.
      const init = { method: "PUT", body } as unknown as Parameters<AwsClient["fetch"]>[1];
      const res = await client.fetch(`${endpoint}/${bucket}/${path}`, init);
      const text = await res.text();
      if (!res.ok) throw new Error(`PUT ${bucket}/${key}: ${res.status} ${text}`);
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

if (import.meta.main) {
  const { default: S3rver } = await import("s3rver");
  const [directory, port, ...buckets] = Deno.args;
  const server = new S3rver({
    address: "127.0.0.1",
    port: Number(port),
    silent: true,
    directory,
    configureBuckets: buckets.map((name) => ({ name })),
  });
  await server.run();
  console.log(JSON.stringify({ port: Number(port) }));
  Deno.addSignalListener("SIGTERM", async () => {
    await server.close();
    Deno.exit(0);
  });
}
