/**
 * Shared set-up for the upload processor's integration tests: a real nats-server, a real S3
 * server (s3rver), the `FILE_UPLOADS` stream and a DLQ, a master key file, a handler script, and
 * the role run in-process with a {@link RoleContext}.
 * @module
 */
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/nats-core";
import { jetstream, type JetStreamManager, jetstreamManager } from "@nats-io/jetstream";
import { configSchema } from "../../../src/roles/schemas.ts";
import { ensureDlqStream } from "../../../src/nats/dlq.ts";
import { ROLE_FACTORIES } from "../../../src/roles/registry.ts";
import { type NatsServer, startNatsServer } from "../../helpers/nats_server.ts";
import { type InProcessRole, runRoleInProcess } from "../../helpers/role.ts";
import {
  S3_ACCESS_KEY_ID,
  S3_SECRET_ACCESS_KEY,
  type S3Server,
  startS3Server,
} from "../../helpers/s3_server.ts";
import { b64, newMasterKey, sealUpload, uploadEvent } from "./producer.ts";

/** The bucket every test upload goes to. */
export const BUCKET = "whispers-bucket-dev";

/**
 * A handler script: logs `start <event_id>`, optionally fails with exit 75 until the event's
 * `$RETRIES_BEFORE_OK`-th start, sleeps `$SLEEP` seconds, copies the file to `$OUT/files/<id>`,
 * then logs `done <event_id>`.
 */
const HANDLER = `#!/bin/sh
set -e
echo "start $2" >> "$OUT/handler.log"
n=$(grep -c "^start $2\\$" "$OUT/handler.log")
if [ "$n" -le "\${RETRIES_BEFORE_OK:-0}" ]; then exit 75; fi
[ "\${SLEEP:-0}" = 0 ] || sleep "$SLEEP"
cp "$1" "$OUT/files/$2"
echo "done $2" >> "$OUT/handler.log"
`;

/**
 * Prepares `dir` for a run: `files/`, an empty `handler.log`, the handler script
 * (`handler.sh`, see {@link HANDLER}) and a fresh master key in `master.key` (base64).
 */
export async function installHandler(dir: string) {
  await Deno.mkdir(`${dir}/files`, { recursive: true });
  await Deno.writeTextFile(`${dir}/handler.log`, "");
  const masterKey = newMasterKey();
  const masterKeyFile = `${dir}/master.key`;
  await Deno.writeTextFile(masterKeyFile, b64(masterKey) + "\n");
  const handlerScript = `${dir}/handler.sh`;
  await Deno.writeTextFile(handlerScript, HANDLER);
  await Deno.chmod(handlerScript, 0o755);
  return { masterKey, masterKeyFile, handlerScript };
}

/** Everything a test needs. */
export interface Harness extends AsyncDisposable {
  nats: NatsServer;
  s3: S3Server;
  nc: NatsConnection;
  jsm: JetStreamManager;
  /** Temp dir: `files/` (handler output), `handler.log`, `downloads/`, the key and the script. */
  dir: string;
  masterKey: Uint8Array;
  masterKeyFile: string;
  handlerScript: string;
  /** Encrypts `plain`, stores data + metadata in S3, returns the event (not yet published). */
  upload(plain: Uint8Array, filename?: string): Promise<ReturnType<typeof uploadEvent>>;
  /** Publishes a raw payload to `file.uploads`. */
  publish(payload: unknown): Promise<number>;
  /** Lines of the handler log. */
  handlerLog(): Promise<string[]>;
  /** DLQ entries: reason and payload. */
  dlqEntries(): Promise<{ reason: string; data: string; deliveries: string }[]>;
}

/** SHA-256 of `bytes`, hex: compares large buffers fast (deep equality is slow on them). */
export async function sha256(bytes: Uint8Array): Promise<string> {
  const d = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(d), (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Starts servers and streams (`FILE_UPLOADS`, `RESULTS` on `file.processed`, the DLQ). With
 * `verifySignatures`, S3 requests go through the SigV4-checking proxy; it is off by default
 * because the proxy adds ~45 ms per PUT (the bulk tests went from 7 s to minutes on a loaded
 * machine), and signing is proven by the tests that turn it on.
 */
export async function harness({ verifySignatures = false } = {}): Promise<Harness> {
  const nats = await startNatsServer();
  const s3 = await startS3Server([BUCKET], { verifySignatures });
  const nc = await connect({ servers: nats.url });
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: "FILE_UPLOADS", subjects: ["file.uploads"] });
  await jsm.streams.add({ name: "RESULTS", subjects: ["file.processed"] });
  await ensureDlqStream(jsm, {
    target: { stream: "DLQ", subjectPrefix: "dlq" },
    maxAge: 86_400_000,
    replicas: 1,
    duplicateWindow: 60_000,
  });
  const dir = await Deno.makeTempDir({ prefix: "jetport-upload-" });
  const { masterKey, masterKeyFile, handlerScript } = await installHandler(dir);
  const js = jetstream(nc);

  const close = async () => {
    await nc.close();
    await s3.close();
    await nats.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  return {
    nats,
    s3,
    nc,
    jsm,
    dir,
    masterKey,
    masterKeyFile,
    handlerScript,
    async upload(plain, filename = "audio.mp3") {
      const event = uploadEvent("user@example.com", filename, BUCKET);
      const sealed = await sealUpload(masterKey, plain, filename);
      await s3.put(BUCKET, event.s3_data_key, sealed.data);
      await s3.put(BUCKET, event.s3_metadata_key, sealed.metadata);
      return event;
    },
    async publish(payload) {
      const data = typeof payload === "string" ? payload : JSON.stringify(payload);
      return (await js.publish("file.uploads", data)).seq;
    },
    async handlerLog() {
      return (await Deno.readTextFile(`${dir}/handler.log`)).split("\n").filter(Boolean);
    },
    async dlqEntries() {
      const info = await jsm.streams.info("DLQ");
      const out: { reason: string; data: string; deliveries: string }[] = [];
      if (info.state.messages === 0) return out;
      for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
        const m = await jsm.streams.getMessage("DLQ", { seq });
        if (!m) continue;
        out.push({
          reason: m.header.get("Jetport-Dlq-Reason"),
          deliveries: m.header.get("Jetport-Dlq-Deliveries"),
          data: m.string(),
        });
      }
      return out;
    },
    close,
    [Symbol.asyncDispose]: close,
  } as Harness & { close(): Promise<void> };
}

/** The upload processor's config section for `h`, with overrides. */
export function sectionFor(h: Harness, overrides: Record<string, unknown> = {}) {
  return {
    concurrency: 3,
    fetch_wait: "1s",
    s3: {
      endpoint: h.s3.endpoint,
      region: "us-east-1",
      access_key_id: S3_ACCESS_KEY_ID,
      secret_access_key: S3_SECRET_ACCESS_KEY,
    },
    download_dir: `${h.dir}/downloads`,
    decrypt: { master_key_file: h.masterKeyFile },
    handler: {
      exec: [h.handlerScript, "{file}", "{event_id}"],
      timeout: "30s",
      env: { OUT: h.dir },
    },
    retry: { backoff: ["100ms"] },
    publish_result: "file.processed",
    ...overrides,
  };
}

/** A running in-process role with its metrics and reported crashes. */
export type RunningRole = InProcessRole;

/** Runs the role in-process on its own connection (like a separate jetport process). */
export function runRole(
  h: Harness,
  section: Record<string, unknown>,
  withDlq = true,
): Promise<RunningRole> {
  return startRole(h.nats.url, section, withDlq);
}

/** Runs the role in-process on its own connection to `servers`; see {@link runRole}. */
export async function startRole(
  servers: string | string[],
  section: Record<string, unknown>,
  withDlq = true,
): Promise<RunningRole> {
  const config = configSchema.parse({
    nats: { servers },
    roles: {
      upload_processor: section,
      ...(withDlq ? { dlq_redriver: { dlq_stream: "DLQ", subject_prefix: "dlq" } } : {}),
    },
  });
  const running = await runRoleInProcess(
    config,
    "upload_processor",
    ROLE_FACTORIES.upload_processor,
  );
  // Handlers in these tests may run for seconds: a longer default grace than other roles.
  const stop = (graceMs = 10_000) => running.stop(graceMs);
  return { ...running, stop, [Symbol.asyncDispose]: () => stop() };
}
