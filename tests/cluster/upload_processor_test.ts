/**
 * The upload processor on a cluster: a three-node cluster with `FILE_UPLOADS`, the dedupe bucket
 * and the DLQ at `replicas: 3`, two jetport daemons sharing one durable consumer, 300 uploads
 * (plus a few bad ones) published while the node leading `FILE_UPLOADS` is killed -9 and
 * restarted 8 s later: every upload handled exactly once (atomic claims), bad ones in the DLQ.
 */
import { connect } from "@nats-io/transport-node";
import { AckPolicy, jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { assert, assertEquals, sleep, waitFor } from "../helpers/assert.ts";
import { writeConfig } from "../helpers/config.ts";
import { type Daemon, startDaemon } from "../helpers/jetport.ts";
import { startNatsCluster, streamSettled } from "../helpers/nats_cluster.ts";
import { S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY, startS3Server } from "../helpers/s3_server.ts";
import { ensureDlqStream } from "../../src/nats/dlq.ts";
import { createPublisher } from "../../src/nats/publisher.ts";
import { installHandler, sha256 } from "../roles/upload_processor/harness.ts";
import { sealUpload, uploadEvent } from "../roles/upload_processor/producer.ts";

const BUCKET = "uploads";
const GOOD = 300;

/** True while the daemon's process has not exited. */
async function running(d: Daemon): Promise<boolean> {
  return await Promise.race([d.child.status.then(() => false), sleep(100).then(() => true)]);
}

Deno.test("cluster: two daemons share FILE_UPLOADS through a leader kill -9; every upload once, bad ones in the DLQ", async () => {
  await using cluster = await startNatsCluster();
  // Signatures are checked by the upload processor's own tests; here s3rver serves directly.
  await using s3 = await startS3Server([BUCKET], { verifySignatures: false });
  const dir = await Deno.makeTempDir({ prefix: "jetport-cluster-upload-" });
  const { masterKey, masterKeyFile, handlerScript } = await installHandler(dir);
  const nc = await connect({ servers: cluster.urls, maxReconnectAttempts: -1 });
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({
    name: "FILE_UPLOADS",
    subjects: ["file.uploads"],
    num_replicas: 3,
    duplicate_window: 120e9,
  });
  await streamSettled(jsm, "FILE_UPLOADS");
  await jsm.consumers.add("FILE_UPLOADS", {
    durable_name: "file_processor",
    ack_policy: AckPolicy.Explicit,
    max_ack_pending: 100,
    ack_wait: 10e9,
  });
  await ensureDlqStream(jsm, {
    target: { stream: "DLQ", subjectPrefix: "dlq" },
    maxAge: 86_400_000,
    replicas: 3,
    duplicateWindow: 60_000,
  });
  await new Kvm(nc).create("jetport_processed", { history: 1, replicas: 3 });

  // The uploads: encrypted objects in S3, and the events that announce them.
  const digests = new Map<string, string>();
  const events: string[] = [];
  for (let i = 0; i < GOOD; i += 20) {
    await Promise.all(Array.from({ length: 20 }, async (_, k) => {
      const plain = crypto.getRandomValues(new Uint8Array(500 + (i + k) * 7));
      const event = uploadEvent("user@example.com", `f${i + k}.bin`, BUCKET);
      const sealed = await sealUpload(masterKey, plain, `f${i + k}.bin`);
      await s3.put(BUCKET, event.s3_data_key, sealed.data);
      await s3.put(BUCKET, event.s3_metadata_key, sealed.metadata);
      digests.set(event.event_id, await sha256(plain));
      events.push(JSON.stringify(event));
    }));
  }
  const bad = [
    "{not json",
    JSON.stringify({ ...uploadEvent("a@example.com", "x", BUCKET), event_id: "42" }),
    JSON.stringify(uploadEvent("a@example.com", "missing.bin", BUCKET)), // no object in S3
    JSON.stringify({ ...uploadEvent("a@example.com", "p", BUCKET), s3_data_key: "../etc/passwd" }),
  ];
  bad.forEach((payload, k) => events.splice(40 + k * 70, 0, payload));

  const config = await writeConfig(`
nats:
  servers: [${cluster.urls.map((u) => `"${u}"`).join(", ")}]
  reconnect: { wait: 250ms, max_wait: 2s }
http: { listen: "" }
shutdown: { grace: 20s }
roles:
  upload_processor:
    concurrency: 4
    fetch_wait: 2s
    s3:
      endpoint: ${s3.endpoint}
      region: us-east-1
      access_key_id: ${S3_ACCESS_KEY_ID}
      secret_access_key: ${S3_SECRET_ACCESS_KEY}
    download_dir: ${dir}/downloads
    decrypt: { master_key_file: ${masterKeyFile} }
    handler:
      exec: ["${handlerScript}", "{file}", "{event_id}"]
      env: { OUT: "${dir}" }
    retry: { backoff: [200ms, 1s] }
  dlq_redriver:
    dlq_stream: DLQ
    subject_prefix: dlq
    replicas: 3
    advisory_stream: null
`);
  await using a = startDaemon(config);
  await using b = startDaemon(config);
  await a.waitForLog("consuming", 30_000);
  await b.waitForLog("consuming", 30_000);

  const leader = await waitFor(() => cluster.streamLeader("FILE_UPLOADS"), 10_000, "leader");
  const pub = createPublisher(nc, { window: 64, ackTimeout: 1000, deadline: 60_000 });
  const failed: string[] = [];
  try {
    // About 40 events a second, so the kill and the restart both land while publishing goes on.
    const publishing = (async () => {
      for (const [n, payload] of events.entries()) {
        await pub.room();
        const msgId = `e-${n}`;
        pub.publish({ subject: "file.uploads", data: payload, msgId }).catch((err) => {
          failed.push(`${msgId}: ${err.message}`);
        });
        if (n % 20 === 19) await sleep(500);
      }
      await pub.flush();
    })();
    // A consumer leader change on its own first (pull requests held by the old leader are
    // gone), then the stream leader's node dies.
    await sleep(1000);
    await nc.request("$JS.API.CONSUMER.LEADER.STEPDOWN.FILE_UPLOADS.file_processor", "", {
      timeout: 5000,
    });
    await sleep(1500);
    await cluster.kill(leader);
    await sleep(8000);
    await cluster.restart(leader);
    await publishing;
    assertEquals(failed, [], "every publish stored (retried through the election)");

    const done = async () =>
      (await Deno.readTextFile(`${dir}/handler.log`)).split("\n").filter((l) =>
        l.startsWith("done ")
      );
    await waitFor(
      async () => new Set(await done()).size >= GOOD,
      90_000,
      `${GOOD} uploads processed`,
    );
    const dlq = await waitFor(
      async () => {
        const info = await jsm.streams.info("DLQ");
        return info.state.messages >= bad.length ? info : undefined;
      },
      30_000,
      "bad uploads in the DLQ",
    );
    await waitFor(
      async () => {
        const i = await jsm.consumers.info("FILE_UPLOADS", "file_processor");
        return i.num_pending === 0 && i.num_ack_pending === 0;
      },
      30_000,
      "everything acked or terminated",
    );

    // Every upload processed, byte for byte.
    const doneLines = await done();
    const ids = new Set(doneLines.map((l) => l.slice(5)));
    assertEquals(ids.size, GOOD);
    for (const [id, digest] of digests) {
      assertEquals(await sha256(await Deno.readFile(`${dir}/files/${id}`)), digest, id);
    }
    // Redeliveries after the failover meet the event's claim or its `done` record: none ran twice.
    assertEquals(doneLines.length - GOOD, 0, "duplicate handler runs");
    const starts = (await Deno.readTextFile(`${dir}/handler.log`)).split("\n")
      .filter((l) => l.startsWith("start "));
    assertEquals(starts.length, GOOD, "handler starts");
    // The bad ones, each once, in the DLQ.
    assertEquals(dlq.state.messages, bad.length);
    const dead = [];
    for (let seq = dlq.state.first_seq; seq <= dlq.state.last_seq; seq++) {
      dead.push((await jsm.streams.getMessage("DLQ", { seq }))?.string());
    }
    assertEquals(dead.sort(), [...bad].sort());
    // Both processes did work and are still running.
    const processed = (d: Daemon) => (d.logs().match(/processed "?[0-9a-f-]{36}/g) ?? []).length;
    assert(processed(a) > 0 && processed(b) > 0, `a: ${processed(a)}, b: ${processed(b)}`);
    assert(await running(a), `daemon a exited:\n${a.logs()}`);
    assert(await running(b), `daemon b exited:\n${b.logs()}`);
    a.signal("SIGTERM");
    b.signal("SIGTERM");
    assertEquals((await a.exit()).code, 0, a.logs());
    assertEquals((await b.exit()).code, 0, b.logs());
  } finally {
    await pub.close(Date.now());
    await nc.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
