/**
 * jetport against the Go client, same machine, same server, same run: each row is one jetport
 * figure, the Go program doing the same work (`tests/bench/go/baseline`), and jetport / Go.
 * A ratio of 1 means jetport does the work as fast as a plain Go program; the goals are in the
 * notes under the table.
 *
 * - publisher: jetport's windowed publisher (window 1000) vs Go `PublishAsync` (window 1000);
 * - `jetport publish --file`: the whole command (start-up included) vs the same Go figure;
 * - monitor: the role draining N file events into its log (write, fsync, ack) vs a Go pull
 *   consumer that fetches 500, formats the same line, writes, syncs and acks (alternating rounds);
 * - upload_processor: the role (1 KB objects, 3 workers, http no-op handler) vs a Go loop with 3
 *   workers doing both GETs, the AES-GCM unwrap and decrypt, the file write and the ack.
 * @module
 */
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/nats-core";
import { AckPolicy, jetstreamManager } from "@nats-io/jetstream";
import type { Bench, BenchTable } from "../run.ts";
import { type GoBaseline, goBaseline, type GoEndpoint, type GoResult } from "./go.ts";
import { processCpuMs } from "../process_cpu.ts";
import { startNatsServer } from "../../helpers/nats_server.ts";
import { runRoleInProcess } from "../../helpers/role.ts";
import { waitFor } from "../../helpers/assert.ts";
import { PERMISSIONS } from "../../helpers/jetport.ts";
import { S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY } from "../../helpers/s3_server.ts";
import { fileEvent } from "../../roles/monitor/helpers.ts";
import {
  type Harness,
  harness,
  runRole,
  sectionFor,
} from "../../roles/upload_processor/harness.ts";
import { cpuUsage } from "node:process";
import { b64 } from "../../roles/upload_processor/producer.ts";
import { createPublisher } from "../../../src/nats/publisher.ts";
import { enableNoDelay } from "../../../src/nats/no_delay.ts";
import { configSchema } from "../../../src/roles/schemas.ts";
import { ROLE_FACTORIES } from "../../../src/roles/registry.ts";

const MESSAGES = Number(Deno.env.get("BENCH_PUBLISH_MESSAGES") ?? 100_000);
const EVENTS = Number(Deno.env.get("BENCH_MONITOR_EVENTS") ?? 100_000);
const UPLOADS = Number(Deno.env.get("BENCH_UPLOAD_SMALL") ?? 1000);
/** `BENCH_VERSUS=publish` (or `monitor`, `upload`, comma-separated) runs only those rows. */
const ONLY = Deno.env.get("BENCH_VERSUS")?.split(",");
const WINDOW = 1000;
const WORKERS = 3;
const PAYLOAD = JSON.stringify({ path: "a/b/c.txt", size: 1234 });
const ROOT = new URL("../../../", import.meta.url).pathname;

/** One row: a jetport rate beside the Go rate for the same work. */
interface Row {
  what: string;
  unit: string;
  jetport: number;
  go: number;
  /** The goal for jetport / Go; none: shown for information. */
  goal?: number;
}

const rate = (count: number, seconds: number) => Math.round(count / seconds);
const goRate = (r: GoResult) => rate(r.count, r.seconds);

async function resetStream(nc: NatsConnection, name: string, subjects: string[]) {
  const jsm = await jetstreamManager(nc);
  await jsm.streams.delete(name).catch(() => {});
  await jsm.streams.add({ name, subjects });
}

/** Rounds of the publish rows (Go, publisher, command each); the medians are reported. */
const PUBLISH_ROUNDS = Math.max(1, Number(Deno.env.get("BENCH_PUBLISH_ROUNDS") ?? 3));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

/** Messages published, untimed, before the publisher row: the JIT's warm-up, not the client's. */
const WARM_UP = Number(Deno.env.get("BENCH_PUBLISH_WARM_UP") ?? 20_000);

/**
 * jetport's publisher, `count` messages, window 1000, ids `${prefix}-${i}`; seconds. Through
 * the promise API, as the roles publish.
 */
async function jetportPublisher(nc: NatsConnection, count: number, prefix: string) {
  const pub = createPublisher(nc, { window: WINDOW });
  const data = new TextEncoder().encode(PAYLOAD);
  let failed = 0;
  const t0 = performance.now();
  for (let i = 0; i < count; i++) {
    if (pub.inFlight >= WINDOW) await pub.room();
    pub.publish({ subject: "bench.jetport", data, msgId: `${prefix}-${i}` }).catch(() => failed++);
  }
  await pub.flush();
  const seconds = (performance.now() - t0) / 1000;
  await pub.close();
  if (failed) throw new Error(`${failed} publishes failed`);
  return seconds;
}

/**
 * `jetport publish --file` of `count` bare JSON lines, the whole command timed (spawn to exit),
 * with the binary's permissions and V8 flags; seconds.
 */
async function publishCommand(url: string, dir: string, count: number): Promise<number> {
  const file = `${dir}/events.jsonl`;
  await Deno.writeTextFile(file, `${PAYLOAD}\n`.repeat(count));
  const config = `${dir}/publish.yaml`;
  await Deno.writeTextFile(config, `nats: { servers: "${url}" }\n`);
  const deno = Deno.execPath();
  const t0 = performance.now();
  const out = await new Deno.Command(deno, {
    args: ["run", ...PERMISSIONS, `${ROOT}main.ts`, "publish", "--config", config]
      .concat(["--subject", "bench.cli"])
      .concat(["--file", file, "--quiet"]),
    stdout: "piped",
    stderr: "piped",
  }).output();
  const seconds = (performance.now() - t0) / 1000;
  if (!out.success) throw new Error(`publish failed: ${new TextDecoder().decode(out.stderr)}`);
  return seconds;
}

/** Runs of `publish` of one line whose median is the command's start-up (spawn to exit). */
const STARTUP_RUNS = 5;
/** The median start-up of `jetport publish` in ms, once publishRows has measured it. */
let publishStartupMs: number | undefined;

/** Publisher, `publish --file` and their Go baseline on one server. */
async function publishRows(): Promise<Row[]> {
  const go = await goBaseline();
  await using server = await startNatsServer();
  const nc = await connect({ servers: server.url });
  // As jetport's own connections (and Go's sockets, by default) have it.
  enableNoDelay(nc);
  const dir = await Deno.makeTempDir({ prefix: "jetport-bench-versus-" });
  try {
    const goRun = () =>
      go.run("publish", [
        "-url",
        server.url,
        "-subject",
        "bench.go",
        "-n",
        String(MESSAGES),
        "-payload",
        PAYLOAD,
        "-window",
        String(WINDOW),
      ]);
    await resetStream(nc, "BENCH", ["bench.>"]);
    if (WARM_UP > 0) await jetportPublisher(nc, WARM_UP, "warm");
    // Alternated, each stream fresh, medians reported: on a shared machine one run of either side
    // can land in a busy moment (Go alone measured 104k-178k msgs/s in consecutive runs).
    const goRates: number[] = [];
    const publisherRates: number[] = [];
    const commandRates: number[] = [];
    for (let round = 0; round < PUBLISH_ROUNDS; round++) {
      await resetStream(nc, "BENCH", ["bench.>"]);
      goRates.push(goRate(await goRun()));
      await resetStream(nc, "BENCH", ["bench.>"]);
      publisherRates.push(rate(MESSAGES, await jetportPublisher(nc, MESSAGES, "jp")));
      await resetStream(nc, "BENCH", ["bench.>"]);
      commandRates.push(rate(MESSAGES, await publishCommand(server.url, dir, MESSAGES)));
    }
    const starts: number[] = [];
    for (let i = 0; i < STARTUP_RUNS; i++) starts.push(await publishCommand(server.url, dir, 1));
    publishStartupMs = Math.round(median(starts) * 1000);
    const goPublish = median(goRates);
    const publisher = median(publisherRates);
    const command = median(commandRates);
    return [
      {
        what: `publisher module, ${MESSAGES} msgs`,
        unit: "msgs/s",
        jetport: publisher,
        go: goPublish,
        goal: 1,
      },
      {
        what: `jetport publish --file, ${MESSAGES} lines (whole command)`,
        unit: "msgs/s",
        jetport: command,
        go: goPublish,
        goal: 0.75,
      },
    ];
  } finally {
    await nc.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** Rounds of the monitor row (Go and jetport each); the medians are reported. */
const MONITOR_ROUNDS = Math.max(1, Number(Deno.env.get("BENCH_MONITOR_ROUNDS") ?? 3));
/**
 * jetport / Go of each monitor round, and the groups (an fsync each) jetport wrote, for the notes.
 */
const monitorRatios: string[] = [];
const monitorGroups: number[] = [];

/** Publishes `EVENTS` file events to a fresh FILES stream. */
async function fillFiles(nc: NatsConnection): Promise<void> {
  await resetStream(nc, "FILES", ["file.events"]);
  const pub = createPublisher(nc, { window: WINDOW });
  for (let i = 0; i < EVENTS; i++) {
    if (pub.inFlight >= WINDOW) await pub.room();
    const data = JSON.stringify(fileEvent("added", `d${i % 100}/f${i}.txt`, 2048));
    pub.publish({ subject: "file.events", data, msgId: `ev-${i}` });
  }
  await pub.flush();
  await pub.close();
}

/**
 * The monitor role and the Go consumer, each draining the same `EVENTS` file events into its own
 * log, in rounds on a fresh stream; which goes first alternates (the first reads the stream
 * right after it was written, the second after the first's acks). Medians of the rates.
 */
async function monitorRow(): Promise<Row> {
  const go = await goBaseline();
  await using server = await startNatsServer();
  const nc = await connect({ servers: server.url });
  const dir = await Deno.makeTempDir({ prefix: "jetport-bench-monitor-" });
  const goDrain = async (round: number) => {
    const jsm = await jetstreamManager(nc);
    await jsm.consumers.add("FILES", {
      durable_name: "go-monitor",
      ack_policy: AckPolicy.Explicit,
    });
    return goRate(
      await go.run("consume", [
        "-url",
        server.url,
        "-stream",
        "FILES",
        "-consumer",
        "go-monitor",
        "-n",
        String(EVENTS),
        "-out",
        `${dir}/go-${round}.log`,
        "-batch",
        "500",
        "-fsync",
      ]),
    );
  };
  const jetportDrain = async (round: number) => {
    const config = configSchema.parse({
      nats: { servers: server.url },
      state_dir: `${dir}/state-${round}`,
      roles: { monitor: { output: { path: `${dir}/jetport-${round}.log` } } },
    });
    // Timed from the role's start like the Go program from its bind: connect and opening the log
    // excluded, creating the consumer and every pull included.
    await using monitor = await runRoleInProcess(config, "monitor", ROLE_FACTORIES.monitor);
    const t0 = performance.now();
    const acked = monitor.metrics.counter("monitor_acked_total", "");
    const labels = { stream: "FILES", consumer: "file-monitor" };
    await waitFor(() => acked.get(labels) >= EVENTS, 600_000, `${EVENTS} events acked`);
    const seconds = (performance.now() - t0) / 1000;
    monitorGroups.push(monitor.metrics.histogram("monitor_flush_seconds", "").count(labels));
    return rate(EVENTS, seconds);
  };
  try {
    const goRates: number[] = [];
    const jetportRates: number[] = [];
    for (let round = 0; round < MONITOR_ROUNDS; round++) {
      await fillFiles(nc);
      if (round % 2 === 0) {
        goRates.push(await goDrain(round));
        jetportRates.push(await jetportDrain(round));
      } else {
        jetportRates.push(await jetportDrain(round));
        goRates.push(await goDrain(round));
      }
      monitorRatios.push((jetportRates[round] / goRates[round]).toFixed(2));
    }
    return {
      what: `monitor draining ${EVENTS} events (write, fsync, ack)`,
      unit: "events/s",
      jetport: median(jetportRates),
      go: median(goRates),
      goal: 1,
    };
  } finally {
    await nc.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** Uploads each side processes untimed first: the JIT's warm-up (and Go's connection set-up). */
const UPLOAD_WARM_UP = Number(Deno.env.get("BENCH_UPLOAD_WARM_UP") ?? 100);

/** Resolves with `performance.now()` once `count()` reaches `n` (polled every 2 ms). */
async function reached(count: () => number, n: number): Promise<number> {
  const until = performance.now() + 600_000;
  while (count() < n) {
    if (performance.now() > until) throw new Error(`${n} uploads not processed in 10 min`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  return performance.now();
}

/** Rounds of the upload rows (Go, download only, http handler each); the medians are reported. */
const UPLOAD_ROUNDS = Math.max(1, Number(Deno.env.get("BENCH_UPLOAD_ROUNDS") ?? 3));

/** CPU per upload (ms) of each process taking part in one run; see {@link cpuTable}. */
interface CpuSplit {
  /** The Go program or jetport's process. */
  client: number;
  s3rver: number;
  natsServer: number;
  /** The no-op handler endpoint (http side only). */
  endpoint?: number;
}

/** One run of one side: its rate (from the warm-up on) and its CPU split. */
interface UploadRun {
  rate: number;
  cpu: CpuSplit;
}

/** The upload rows' CPU split per side (medians of the rounds), filled by {@link uploadRows}. */
const uploadCpu: { side: string; cpu: CpuSplit }[] = [];

/** CPU used so far by the processes of an upload run (ms): s3rver, nats-server, the endpoint. */
function serverCpu(h: Harness, endpoint: GoEndpoint) {
  return {
    s3rver: processCpuMs(h.s3.pid),
    natsServer: processCpuMs(h.nats.pid),
    endpoint: processCpuMs(endpoint.pid),
  };
}

/** CPU per upload of s3rver and nats-server (and the endpoint) since `before`. */
function serverCpuSince(h: Harness, endpoint: GoEndpoint, before: ReturnType<typeof serverCpu>) {
  const now = serverCpu(h, endpoint);
  return {
    s3rver: (now.s3rver - before.s3rver) / UPLOADS,
    natsServer: (now.natsServer - before.natsServer) / UPLOADS,
    endpoint: (now.endpoint - before.endpoint) / UPLOADS,
  };
}

/**
 * Runs the role on `UPLOADS` events already in the stream, through a fresh consumer: its rate from
 * its `UPLOAD_WARM_UP`th upload on, and each process's CPU per upload over the whole run
 * (start-up included).
 */
async function roleRun(
  h: Harness,
  endpoint: GoEndpoint,
  section: Record<string, unknown>,
): Promise<UploadRun> {
  const servers0 = serverCpu(h, endpoint);
  const own0 = cpuUsage();
  await using role = await runRole(h, sectionFor(h, { concurrency: WORKERS, ...section }));
  const processed = role.metrics.counter("upload_processed_total", "");
  const t0 = await reached(() => processed.get(), UPLOAD_WARM_UP);
  const t1 = await reached(() => processed.get(), UPLOADS);
  const own = cpuUsage(own0);
  const { endpoint: endpointCpu, ...servers } = serverCpuSince(h, endpoint, servers0);
  await h.jsm.consumers.delete("FILE_UPLOADS", "file_processor");
  return {
    rate: rate(UPLOADS - UPLOAD_WARM_UP, (t1 - t0) / 1000),
    cpu: {
      client: (own.user + own.system) / 1000 / UPLOADS,
      ...servers,
      endpoint: section.handler ? endpointCpu : undefined,
    },
  };
}

/** The Go upload loop on `UPLOADS` events already in the stream, through a fresh consumer. */
async function goRun(h: Harness, endpoint: GoEndpoint, go: GoBaseline): Promise<UploadRun> {
  await h.jsm.consumers.add("FILE_UPLOADS", {
    durable_name: "go_uploads",
    ack_policy: AckPolicy.Explicit,
  });
  const servers0 = serverCpu(h, endpoint);
  const result = await go.run("upload", [
    "-url",
    h.nats.url,
    "-stream",
    "FILE_UPLOADS",
    "-consumer",
    "go_uploads",
    "-n",
    String(UPLOADS),
    "-warm",
    String(UPLOAD_WARM_UP),
    "-dir",
    `${h.dir}/go-downloads`,
    "-endpoint",
    h.s3.endpoint,
    "-access",
    S3_ACCESS_KEY_ID,
    "-secret",
    S3_SECRET_ACCESS_KEY,
    "-master",
    b64(h.masterKey),
    "-workers",
    String(WORKERS),
  ]);
  const { endpoint: _, ...servers } = serverCpuSince(h, endpoint, servers0);
  await h.jsm.consumers.delete("FILE_UPLOADS", "go_uploads");
  return { rate: goRate(result), cpu: { client: result.cpu_seconds * 1000 / UPLOADS, ...servers } };
}

/**
 * The upload processor and the Go upload loop, `UPLOADS` 1 KB encrypted uploads per run, all of
 * them in the stream before a run starts, each run timed from its `UPLOAD_WARM_UP`th upload on. Two
 * jetport sides against the Go loop: download only (no handler, files kept: the Go loop's work,
 * plus the dedupe claim and record and the result event) and with an `http` handler, a no-op
 * endpoint in a separate process (the Go program's `noop-http`), as a real handler service would
 * be, the file removed after it. `UPLOAD_ROUNDS` rounds, the order of the sides rotating (the
 * first run of a process, s3rver's too, is slower), medians reported. The objects are uploaded
 * once; each run gets fresh events for them (new `event_id` and `file_uuid`).
 */
async function uploadRows(): Promise<Row[]> {
  const go = await goBaseline();
  await using h = await harness();
  await using endpoint = await go.noopEndpoint();
  const plain = crypto.getRandomValues(new Uint8Array(1024));
  const objects: Awaited<ReturnType<Harness["upload"]>>[] = [];
  for (let i = 0; i < UPLOADS; i++) objects.push(await h.upload(plain, `f${i}.bin`));
  const publishFresh = async () => {
    await h.jsm.streams.purge("FILE_UPLOADS");
    // New ids, and so new local paths: no run overwrites another's files.
    for (const o of objects) {
      await h.publish({ ...o, event_id: crypto.randomUUID(), file_uuid: crypto.randomUUID() });
    }
  };
  const url = `http://127.0.0.1:${endpoint.port}/`;
  // In the order of round 0; later rounds rotate it.
  const [goLoop, kept, handled] = [
    { side: "Go upload loop", run: () => goRun(h, endpoint, go) },
    {
      side: "jetport, download only",
      run: () => roleRun(h, endpoint, { handler: undefined, keep_files: true }),
    },
    {
      side: "jetport, http no-op handler",
      run: () => roleRun(h, endpoint, { handler: { http: { url, send: "path" } } }),
    },
  ].map((s) => ({ ...s, runs: [] as UploadRun[] }));
  const sides = [goLoop, kept, handled];
  for (let round = 0; round < UPLOAD_ROUNDS; round++) {
    for (let k = 0; k < sides.length; k++) {
      const side = sides[(k + round) % sides.length];
      await publishFresh();
      side.runs.push(await side.run());
    }
  }
  const medianOf = (runs: UploadRun[], pick: (r: UploadRun) => number | undefined) => {
    const xs = runs.map(pick).filter((x): x is number => x !== undefined);
    return xs.length ? median(xs) : undefined;
  };
  uploadCpu.length = 0;
  for (const { side, runs } of sides) {
    uploadCpu.push({
      side,
      cpu: {
        client: medianOf(runs, (r) => r.cpu.client)!,
        s3rver: medianOf(runs, (r) => r.cpu.s3rver)!,
        natsServer: medianOf(runs, (r) => r.cpu.natsServer)!,
        endpoint: medianOf(runs, (r) => r.cpu.endpoint),
      },
    });
  }
  const rateOf = (runs: UploadRun[]) => medianOf(runs, (r) => r.rate)!;
  const what = `upload_processor, ${UPLOADS} × 1 KB, ${WORKERS} workers`;
  const goLoopRate = rateOf(goLoop.runs);
  return [
    {
      what: `${what}, download only`,
      unit: "events/s",
      jetport: rateOf(kept.runs),
      go: goLoopRate,
      goal: 0.8,
    },
    {
      what: `${what}, http no-op handler`,
      unit: "events/s",
      jetport: rateOf(handled.runs),
      go: goLoopRate,
    },
  ];
}

/** Where the upload rows' CPU went: ms per upload of each process, over each whole run. */
function cpuTable(): BenchTable {
  const ms = (v: number | undefined) => v === undefined || Number.isNaN(v) ? "—" : v;
  return {
    title:
      `upload rows: CPU per upload (ms), each process, over each run (medians of ${UPLOAD_ROUNDS})`,
    columns: ["side", "client process", "s3rver", "nats-server", "handler endpoint", "total"],
    rows: uploadCpu.map(({ side, cpu }) => [
      side,
      ms(cpu.client),
      ms(cpu.s3rver),
      ms(cpu.natsServer),
      ms(cpu.endpoint),
      ms(cpu.client + cpu.s3rver + cpu.natsServer + (cpu.endpoint ?? 0)),
    ]),
    notes: [
      "On 2 cores a run cannot go faster than about 2000 / total uploads/s (s3rver's JavaScript",
      "also runs on one thread). The client process is the Go program or jetport's whole",
      "process (the role, its NATS client, the bench's polling); the endpoint is the Go no-op",
      "server. jetport's nats-server share includes its dedupe claim and record, result event",
      "and confirmed ack: four requests per upload the Go loop does not make.",
    ],
  };
}

const bench: Bench = {
  name: "versus-go",
  async run(): Promise<BenchTable[]> {
    const wanted = (part: string) => !ONLY || ONLY.includes(part);
    const rows = [
      ...wanted("publish") ? await publishRows() : [],
      ...wanted("monitor") ? [await monitorRow()] : [],
      ...wanted("upload") ? await uploadRows() : [],
    ];
    return [{
      title: "jetport vs the Go client (nats.go), same server, same run",
      columns: ["what", "unit", "jetport", "Go", "jetport / Go", "goal"],
      rows: rows.map((r) => [
        r.what,
        r.unit,
        r.jetport,
        r.go,
        r.jetport / r.go,
        r.goal === undefined ? "—" : `≥ ${r.goal}`,
      ]),
      notes: [
        `Publish rows: medians of ${PUBLISH_ROUNDS} alternated rounds (Go, publisher, command).`,
        `The publisher row is timed after ${WARM_UP} untimed messages (V8's JIT warm-up; Go is`,
        "compiled ahead of time), on a socket with TCP_NODELAY like Go's; the publish --file row",
        "is a fresh process (the binary's permissions and V8 flags), start-up and cold JIT included.",
        ...publishStartupMs === undefined ? [] : [
          `jetport publish start-up (one line, spawn to exit, median of ${STARTUP_RUNS}): ${publishStartupMs} ms.`,
        ],
        "Go: tests/bench/go/baseline (nats.go from Debian, PublishAsync window 1000; pull",
        "consumer fetching 500, same line format, fsync, ack; 3 upload workers doing both GETs,",
        "SigV4, AES-256-GCM unwrap + decrypt, file write, ack). jetport's upload figure also",
        "includes the dedupe claim and record, the handler call and the result event, whose",
        "PubAck it awaits before the ack (Go sends a plain Ack); see docs/config/upload_processor.md.",
        `Upload rows: medians of ${UPLOAD_ROUNDS} rounds, the order of the three sides rotating;`,
        "every event in the stream before a run starts, each run timed from its",
        `${UPLOAD_WARM_UP}th upload on. Download only: no handler, files kept, as the Go loop does;`,
        "the http row calls a no-op endpoint in a separate (Go) process and removes each file.",
        ...monitorRatios.length
          ? [
            `Monitor row: medians of ${MONITOR_ROUNDS} rounds, who goes first alternating (jetport / Go`,
            `per round: ${
              monitorRatios.join(", ")
            }). Go fetches 500, writes, fsyncs, acks, fetches`,
            "again; jetport pulls ahead and commits in groups of up to 500, one fsync each (groups",
            `per round: ${monitorGroups.join(", ")}; Go: ${
              Math.ceil(EVENTS / 500)
            } fetches), appends a line`,
            "per group to its written-sequence journal (not synced: docs/config/monitor.md) and",
            "creates its consumer with max_ack_pending 2000 (Go's has the default 1000, which a",
            "serial fetch of 500 never reaches). Both parse each event's whole JSON.",
          ]
          : [],
      ],
    }, ...uploadCpu.length ? [cpuTable()] : []];
  },
};
export default bench;
