import { assert, assertEquals, waitFor } from "../../helpers/assert.ts";
import { writeConfig } from "../../helpers/config.ts";
import { startDaemon } from "../../helpers/jetport.ts";
import { S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY } from "../../helpers/s3_server.ts";
import { harness } from "./harness.ts";

Deno.test("upload_processor: SIGTERM while handlers run → they finish, nothing lost or run twice", async () => {
  await using h = await harness();
  const ids: string[] = [];
  for (let i = 0; i < 12; i++) {
    const event = await h.upload(new TextEncoder().encode(`file ${i}`));
    ids.push(event.event_id);
    await h.publish(event);
  }
  const file = await writeConfig(`
nats: { servers: "${h.nats.url}" }
http: { listen: "" }
shutdown: { grace: 30s }
roles:
  upload_processor:
    concurrency: 3
    fetch_wait: 1s
    s3:
      endpoint: ${h.s3.endpoint}
      region: us-east-1
      access_key_id: ${S3_ACCESS_KEY_ID}
      secret_access_key: ${S3_SECRET_ACCESS_KEY}
    download_dir: ${h.dir}/downloads
    decrypt: { master_key_file: ${h.masterKeyFile} }
    handler:
      exec: ["${h.handlerScript}", "{file}", "{event_id}"]
      env: { OUT: "${h.dir}", SLEEP: "1" }
`);
  const started = (log: string[]) => log.filter((l) => l.startsWith("start"));
  const done = (log: string[]) => log.filter((l) => l.startsWith("done"));

  await using first = startDaemon(file);
  await waitFor(async () => started(await h.handlerLog()).length >= 3, 60_000, "handlers run");
  first.signal("SIGTERM");
  assertEquals((await first.exit()).code, 0, first.logs());
  const afterStop = await h.handlerLog();
  // Every handler that had started was allowed to finish within the grace period.
  assertEquals(done(afterStop).length, started(afterStop).length, afterStop.join("\n"));
  assert(done(afterStop).length < ids.length, "the stop came while work was left");

  await using second = startDaemon(file);
  await waitFor(async () => done(await h.handlerLog()).length >= ids.length, 60_000, "all done");
  const info = await waitFor(async () => {
    const i = await h.jsm.consumers.info("FILE_UPLOADS", "file_processor");
    return i.num_ack_pending === 0 && i.num_pending === 0 ? i : undefined;
  }, 30_000);
  assertEquals(info.num_pending, 0);
  second.signal("SIGTERM");
  assertEquals((await second.exit()).code, 0, second.logs());
  const log = await h.handlerLog();
  assertEquals(started(log).sort(), ids.map((id) => `start ${id}`).sort(), "each started once");
  assertEquals(done(log).sort(), ids.map((id) => `done ${id}`).sort(), "each done once");
});
