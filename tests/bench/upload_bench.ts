/**
 * Upload processor throughput: events/s and MB/s through the whole role (pull, dedupe check,
 * metadata + data GET, streaming AES-GCM decryption, no-op `exec: ["true"]` handler, dedupe
 * record, ack, result event) against a plain loop that only GETs each (unencrypted) object and
 * writes it to a file, with the same number of workers, same S3 server, same run.
 * @module
 */
import { AwsClient } from "aws4fetch";
import type { Bench, BenchTable } from "./run.ts";
import { S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY } from "../helpers/s3_server.ts";
import {
  BUCKET,
  type Harness,
  harness,
  runRole,
  sectionFor,
} from "../roles/upload_processor/harness.ts";

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

/** The role with a no-op handler; returns ms from the first publish to the last success. */
async function role(h: Harness, events: unknown[]): Promise<{ ms: number; rssMb: number }> {
  await using run = await runRole(
    h,
    sectionFor(h, {
      concurrency: WORKERS,
      handler: { exec: ["true"] },
    }),
  );
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

const bench: Bench = {
  name: "upload_processor",
  async run(): Promise<BenchTable[]> {
    const rows: (string | number)[][] = [];
    for (const c of CASES) {
      await using h = await harness();
      const plain = random(c.size);
      const events = [];
      const plainKeys = [];
      for (let i = 0; i < c.count; i++) {
        events.push(await h.upload(plain, `f${i}.bin`));
        plainKeys.push(`plain/f${i}.bin`);
        await h.s3.put(BUCKET, plainKeys[i], plain);
      }
      const base = await plainLoop(h, plainKeys);
      const r = await role(h, events);
      const mb = (c.size * c.count) / 1e6;
      rows.push([
        c.label,
        c.count,
        (c.count / base) * 1000,
        (mb / base) * 1000,
        (c.count / r.ms) * 1000,
        (mb / r.ms) * 1000,
        base / r.ms,
        r.rssMb,
      ]);
    }
    return [{
      title:
        `upload_processor vs plain GET + write file (${WORKERS} workers each, s3rver, loopback)`,
      columns: [
        "object",
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
        "role = pull + dedupe check + metadata GET + data GET + streaming AES-256-GCM decrypt +",
        'exec ["true"] (one process spawn per event) + dedupe record + ack + result event.',
      ],
    }];
  },
};

export default bench;
