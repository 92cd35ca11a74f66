/**
 * Upload processor throughput: events/s and MB/s through the whole role (pull, dedupe check,
 * metadata + data GET, streaming AES-GCM decryption, no-op handler, dedupe record, ack, result
 * event) against a plain loop that only GETs each (unencrypted) object and writes it to a file,
 * with the same number of workers, same S3 server, same run. Two no-op handlers: `exec: ["true"]`
 * (one process spawn per event) and `http` to a local endpoint that answers at once, which
 * isolates the role's own cost.
 * @module
 */
import { AwsClient } from "aws4fetch";
import { Kvm } from "@nats-io/kv";
import type { Bench, BenchTable } from "./run.ts";
import type { Workload } from "./cluster_bench.ts";
import { S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY, startS3Server } from "../helpers/s3_server.ts";
import { createPublisher } from "../../src/nats/publisher.ts";
import {
  BUCKET,
  type Harness,
  harness,
  runRole,
  sectionFor,
  startRole,
} from "../roles/upload_processor/harness.ts";
import { b64, newMasterKey, sealUpload, uploadEvent } from "../roles/upload_processor/producer.ts";

const WORKERS = 3;
const CASES = [
  { label: "1 KB", size: 1024, count: Number(Deno.env.get("BENCH_UPLOAD_SMALL") ?? 300) },
  {
    label: "10 MB",
    size: 10 * 1024 * 1024,
    count: Number(Deno.env.get("BENCH_UPLOAD_LARGE") ?? 12),
  },
];

function random(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(out.subarray(i, i + 65536));
  return out;
}

/** GET + write file, `WORKERS` loops in parallel; returns ms. */
async function plainLoop(h: Harness, keys: string[]): Promise<number> {
  const client = new AwsClient({
    accessKeyId: S3_ACCESS_KEY_ID,
    secretAccessKey: S3_SECRET_ACCESS_KEY,
    service: "s3",
    region: "us-east-1",
    retries: 0,
  });
  const dir = await Deno.makeTempDir({ dir: h.dir });
  const queue = [...keys];
  const t0 = performance.now();
  await Promise.all(Array.from({ length: WORKERS }, async () => {
    for (let key = queue.shift(); key; key = queue.shift()) {
      const res = await client.fetch(`${h.s3.endpoint}/${BUCKET}/${key}`);
      const file = await Deno.open(`${dir}/${crypto.randomUUID()}`, { write: true, create: true });
      await res.body!.pipeTo(file.writable);
    }
  }));
  const ms = performance.now() - t0;
  await Deno.remove(dir, { recursive: true });
  return ms;
}

/** The role with `handler`; returns ms from the first publish to the last success. */
async function role(
  h: Harness,
  events: unknown[],
  handler: unknown,
): Promise<{ ms: number; rssMb: number }> {
  await using run = await runRole(h, sectionFor(h, { concurrency: WORKERS, handler }));
  const processed = run.metrics.counter("upload_processed_total", "");
  const rss0 = Deno.memoryUsage().rss;
  let rssMax = rss0;
  const t0 = performance.now();
  for (const e of events) await h.publish(e);
  while (processed.get() < events.length) {
    rssMax = Math.max(rssMax, Deno.memoryUsage().rss);
    await new Promise((r) => setTimeout(r, 10));
  }
  const ms = performance.now() - t0;
  return { ms, rssMb: (rssMax - rss0) / 1e6 };
}

/** A no-op HTTP handler endpoint (answers at once); closed with the returned server. */
function noopEndpoint(): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    await req.body?.cancel();
    return new Response("{}");
  });
}

const CLUSTER_UPLOADS = Number(Deno.env.get("BENCH_CLUSTER_UPLOADS") ?? 300);

/**
 * The cluster bench's upload workload: {@link CLUSTER_UPLOADS} 1 KB encrypted uploads through the
 * role (http no-op handler, 3 workers) from a stream of the given replica count, with a dedupe
 * bucket of the same replica count; events/s from the first publish to the last success.
 */
export const uploadWorkload: Workload = {
  name: `upload_processor (${CLUSTER_UPLOADS} × 1 KB, ${WORKERS} workers, http no-op)`,
  unit: "events/s",
  async run(nc, stream) {
    await using s3 = await startS3Server([BUCKET], { verifySignatures: false });
    await using endpoint = noopEndpoint();
    const dir = await Deno.makeTempDir({ prefix: "jetport-bench-upload-" });
    const masterKey = newMasterKey();
    await Deno.writeTextFile(`${dir}/master.key`, b64(masterKey));
    const bucket = `bench_processed_r${stream.replicas}`;
    const kv = await new Kvm(nc).create(bucket, { history: 1, replicas: stream.replicas });
    const events: string[] = [];
    const plain = random(1024);
    for (let i = 0; i < CLUSTER_UPLOADS; i++) {
      const event = uploadEvent("bench@example.com", `f${i}.bin`, BUCKET);
      const sealed = await sealUpload(masterKey, plain, `f${i}.bin`);
      await s3.put(BUCKET, event.s3_data_key, sealed.data);
      await s3.put(BUCKET, event.s3_metadata_key, sealed.metadata);
      events.push(JSON.stringify(event));
    }
    const servers = nc.getServers().map((s) => `nats://${s.listen}`);
    const run = await startRole(servers, {
      stream: stream.name,
      consumer: "bench_uploads",
      subject: `${stream.subject}.uploads`,
      concurrency: WORKERS,
      s3: {
        endpoint: s3.endpoint,
        region: "us-east-1",
        access_key_id: S3_ACCESS_KEY_ID,
        secret_access_key: S3_SECRET_ACCESS_KEY,
      },
      download_dir: `${dir}/downloads`,
      decrypt: { master_key_file: `${dir}/master.key` },
      handler: { http: { url: `http://127.0.0.1:${endpoint.addr.port}/`, send: "path" } },
      dedupe_bucket: bucket,
    }, false);
    const processed = run.metrics.counter("upload_processed_total", "");
    const pub = createPublisher(nc, { window: 256 });
    const failed: unknown[] = [];
    try {
      const t0 = performance.now();
      for (const [i, data] of events.entries()) {
        await pub.room();
        pub.publish({ subject: `${stream.subject}.uploads`, data, msgId: `u-${i}` })
          .catch((err) => failed.push(err));
      }
      while (processed.get() < events.length) {
        if (failed.length) throw new Error(`publish failed: ${failed[0]}`);
        await new Promise((r) => setTimeout(r, 5));
      }
      return { count: events.length, ms: performance.now() - t0 };
    } finally {
      await pub.close();
      await run.stop();
      await kv.destroy().catch(() => {});
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
};

const bench: Bench = {
  name: "upload_processor",
  async run(): Promise<BenchTable[]> {
    const rows: (string | number)[][] = [];
    await using noop = noopEndpoint();
    const handlers = [
      ["exec true", { exec: ["true"] }],
      ["http no-op", { http: { url: `http://127.0.0.1:${noop.addr.port}/`, send: "path" } }],
    ] as const;
    for (const c of CASES) {
      // s3rver without the test signature-checking proxy: the bench measures jetport, not it.
      await using h = await harness();
      const plain = random(c.size);
      const plainKeys = [];
      for (let i = 0; i < c.count; i++) {
        plainKeys.push(`plain/f${i}.bin`);
        await h.s3.put(BUCKET, plainKeys[i], plain);
      }
      const base = await plainLoop(h, plainKeys);
      const mb = (c.size * c.count) / 1e6;
      for (const [label, handler] of handlers) {
        const events = [];
        for (let i = 0; i < c.count; i++) events.push(await h.upload(plain, `f${i}.bin`));
        const r = await role(h, events, handler);
        rows.push([
          c.label,
          label,
          c.count,
          (c.count / base) * 1000,
          (mb / base) * 1000,
          (c.count / r.ms) * 1000,
          (mb / r.ms) * 1000,
          base / r.ms,
          r.rssMb,
        ]);
      }
    }
    return [{
      title:
        `upload_processor vs plain GET + write file (${WORKERS} workers each, s3rver, loopback)`,
      columns: [
        "object",
        "handler",
        "events",
        "plain ev/s",
        "plain MB/s",
        "role ev/s",
        "role MB/s",
        "role / plain",
        "role RSS growth MB",
      ],
      rows,
      notes: [
        "role = pull + dedupe check + metadata and data GET (two S3 requests per event, the plain",
        "loop makes one) + streaming AES-256-GCM decrypt + handler + dedupe record + ack + result",
        'event. exec ["true"] spawns a process per event; http posts the path to a local no-op.',
      ],
    }];
  },
};

export default bench;
