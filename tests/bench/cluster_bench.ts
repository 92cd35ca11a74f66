/**
 * What replication costs on a local three-node cluster: each workload runs against a
 * `replicas: 1` stream and a `replicas: 3` stream of the same cluster, in the same run, and the
 * table shows both side by side with the R3/R1 ratio.
 *
 * To add a workload (the upload processor's events/s, once it lands): append a {@link Workload}
 * to {@link WORKLOADS}. It gets a connection and a fresh, empty stream of the given replica count
 * capturing `<subject>.>`, and returns how many units it processed and how long that took.
 * @module
 */
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/nats-core";
import { jetstreamManager } from "@nats-io/jetstream";
import { startNatsCluster } from "../helpers/nats_cluster.ts";
import { createPublisher } from "../../src/nats/publisher.ts";
import type { Bench } from "./run.ts";
import { uploadWorkload } from "./upload_bench.ts";

const MESSAGES = Number(Deno.env.get("BENCH_CLUSTER_MESSAGES") ?? 50_000);
const WINDOW = 1000;
const PAYLOAD = new TextEncoder().encode(JSON.stringify({ path: "a/b/c.txt", size: 1234 }));

/** The stream a workload runs against. */
export interface BenchStream {
  /** Stream name. */
  name: string;
  /** The stream captures `<subject>.>`. */
  subject: string;
  /** 1 or 3. */
  replicas: number;
}

/** One measured workload, run once per replica count. */
export interface Workload {
  /** Row label, e.g. `publisher`. */
  name: string;
  /** What is counted, e.g. `msgs/s`. */
  unit: string;
  /** Runs the workload; returns units processed and milliseconds taken. */
  run(nc: NatsConnection, stream: BenchStream): Promise<{ count: number; ms: number }>;
}

/** jetport's windowed publisher, as the watcher uses it. */
const publisher: Workload = {
  name: `publisher (${MESSAGES} msgs, window ${WINDOW})`,
  unit: "msgs/s",
  async run(nc, stream) {
    const pub = createPublisher(nc, { window: WINDOW });
    let failed = 0;
    const t0 = performance.now();
    for (let i = 0; i < MESSAGES; i++) {
      if (pub.inFlight >= WINDOW) await pub.room();
      pub.publish({ subject: `${stream.subject}.x`, data: PAYLOAD, msgId: `b-${i}` })
        .catch(() => failed++);
    }
    await pub.flush();
    const ms = performance.now() - t0;
    await pub.close();
    if (failed) throw new Error(`${failed} publishes failed on ${stream.name}`);
    return { count: MESSAGES, ms };
  },
};

/** Every workload, one row each. */
export const WORKLOADS: Workload[] = [publisher, uploadWorkload];

const REPLICAS = [1, 3];

const bench: Bench = {
  name: "cluster",
  async run() {
    await using cluster = await startNatsCluster();
    const nc = await connect({ servers: cluster.urls });
    const jsm = await jetstreamManager(nc);
    const rows: (string | number)[][] = [];
    try {
      for (const w of WORKLOADS) {
        const rates: number[] = [];
        for (const replicas of REPLICAS) {
          const stream = { name: `BENCH_R${replicas}`, subject: `bench.r${replicas}`, replicas };
          await jsm.streams.delete(stream.name).catch(() => {});
          await jsm.streams.add({
            name: stream.name,
            subjects: [`${stream.subject}.>`],
            num_replicas: replicas,
          });
          const { count, ms } = await w.run(nc, stream);
          rates.push(Math.round(count / (ms / 1000)));
          await jsm.streams.delete(stream.name);
        }
        rows.push([w.name, ...rates, rates[1] / rates[0]]);
      }
    } finally {
      await nc.close();
    }
    return [{
      title: `Replication cost on a local 3-node cluster (nats-server ${cluster.version})`,
      columns: ["workload", "replicas: 1", "replicas: 3", "R3 / R1"],
      rows,
      notes: [
        "units: " + WORKLOADS.map((w) => `${w.name.split(" (")[0]} ${w.unit}`).join(", ") +
        "; all three servers share this machine's cores, so R3 pays for the copies in CPU too",
      ],
    }];
  },
};
export default bench;
