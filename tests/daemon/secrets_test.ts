/**
 * No secret anywhere: a daemon at `log.level: debug` with a password in the server URL and in
 * `pass_file`, then with a token, then with an nkey seed file, always with S3 keys (the session
 * token from `session_token_file`), drives traffic (an upload whose download fails, so the S3
 * client signs and retries) and a failed connection (NATS stopped and back). None of the secret
 * strings may appear in its stdout/stderr, its log file, `/metrics`, `/readyz`, or the output of
 * `status --json` and `validate`, whether NATS is up or down.
 */
import { connect } from "@nats-io/transport-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { createUser } from "@nats-io/nkeys";
import { assert, assertEquals, waitFor } from "../helpers/assert.ts";
import { writeConfig } from "../helpers/config.ts";
import { jetport, startDaemon } from "../helpers/jetport.ts";
import { freePort, type NatsServer, startNatsServer } from "../helpers/nats_server.ts";
import { readyz, waitReady } from "../helpers/readyz.ts";
import { uploadEvent } from "../roles/upload_processor/producer.ts";

const S3_ACCESS_KEY = "AKIA7SECRETACCESSKEY";
const S3_SECRET_KEY = "s3-secret-key-5d1c9e77";
const S3_SESSION_TOKEN = "s3-session-token-8a2f41b0";

/** Asserts that none of `secrets` occurs in `text` (`where` names the place). */
function assertNoSecret(text: string, secrets: string[], where: string): void {
  for (const s of secrets) {
    assert(!text.includes(s), `${where} shows a secret:\n${text}`);
  }
}

/**
 * Runs the daemon with the `nats:` section `nats` (YAML) plus an upload processor with S3 keys,
 * against `server`, and checks every output for `secrets`.
 */
async function noSecretAnywhere(server: NatsServer, nats: string, secrets: string[]) {
  const all = [...secrets, S3_ACCESS_KEY, S3_SECRET_KEY, S3_SESSION_TOKEN];
  const dir = await Deno.makeTempDir({ prefix: "jetport-secrets-" });
  await Deno.writeTextFile(`${dir}/session_token`, S3_SESSION_TOKEN + "\n");
  const httpPort = freePort();
  const file = await writeConfig(`nats:
${nats}
  reconnect: { wait: 100ms, max_wait: 500ms }
http: { listen: "127.0.0.1:${httpPort}" }
log: { level: debug, file: ${dir}/jetport.log }
state_dir: ${dir}/state
roles:
  upload_processor:
    download_dir: ${dir}/downloads
    handler: { exec: ["true"] }
    s3:
      endpoint: "http://127.0.0.1:${freePort()}"
      access_key_id: ${S3_ACCESS_KEY}
      secret_access_key: ${S3_SECRET_KEY}
      session_token_file: ${dir}/session_token
    retry: { backoff: [100ms] }
`);
  const outputs: [string, string][] = [];
  const cli = async (what: string, args: string[]) => {
    const out = await jetport([...args, "--config", file]);
    outputs.push([what, out.stdout + out.stderr]);
  };

  await cli("validate", ["validate"]);
  {
    await using daemon = startDaemon(file);
    await waitReady(httpPort, 30_000).catch((err) => {
      throw new Error(`${err.message}\n${daemon.logs()}`);
    });
    // Traffic: an upload whose S3 download cannot connect, so it is signed and retried.
    const nc = await connect({ servers: server.url, ...natsAuth(nats) });
    await jetstream(nc).publish("file.uploads", JSON.stringify(uploadEvent("a@b.c", "x", "b")));
    await nc.close();
    await waitFor(
      async () => /^jetport_upload_retried_total(\{[^}]*\})? [1-9]/m.test(await metrics(httpPort)),
      30_000,
      "the upload was tried and given back for a retry",
    );
    outputs.push(["/metrics", await metrics(httpPort)]);
    outputs.push(["/readyz", (await readyz(httpPort)).body]);
    await cli("status --json", ["status", "--json"]);

    // A failed connection: NATS goes away (status fails too) and comes back.
    await server.stop();
    await daemon.waitForLog(/disconnected from/, 30_000);
    outputs.push(["/readyz while down", (await readyz(httpPort)).body]);
    await cli("status --json while down", ["status", "--json"]);
    await server.restart();
    await daemon.waitForLog(/reconnected to/, 30_000);
    daemon.signal("SIGTERM");
    assertEquals((await daemon.exit()).code, 0, daemon.logs());
    outputs.push(["daemon stdout/stderr", daemon.logs()]);
  }
  outputs.push(["log file", await Deno.readTextFile(`${dir}/jetport.log`)]);
  for (const [where, text] of outputs) assertNoSecret(text, all, where);
  // The test can fail: the secrets were in use (connected, logged at debug, signed requests).
  assert(outputs.find(([w]) => w === "log file")![1].includes("connected to"));
  await Deno.remove(dir, { recursive: true });
}

async function metrics(port: number): Promise<string> {
  return await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
}

/** The test client's own credentials, read back from the daemon's `nats:` YAML. */
function natsAuth(nats: string): Record<string, unknown> {
  const token = /token: "([^"]+)"/.exec(nats)?.[1];
  if (token) return { token };
  return { user: "tester", pass: "tester-pass" };
}

async function uploadStream(server: NatsServer, auth: Record<string, unknown>) {
  const nc = await connect({ servers: server.url, ...auth });
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: "FILE_UPLOADS", subjects: ["file.uploads"] });
  await nc.close();
}

Deno.test("secrets: password in the URL and pass_file, nkey seed file, S3 keys never shown", async (t) => {
  const password = "url-pass-3e9b7c5d1f";
  const nkeyUser = createUser();
  const seed = new TextDecoder().decode(nkeyUser.getSeed());
  await using server = await startNatsServer({
    config: `authorization {
  users: [
    { user: app, password: "${password}" }
    { user: tester, password: tester-pass }
    { nkey: ${nkeyUser.getPublicKey()} }
  ]
}`,
  });
  await uploadStream(server, natsAuth(""));
  const dir = await Deno.makeTempDir({ prefix: "jetport-secret-files-" });
  await Deno.writeTextFile(`${dir}/pass`, password + "\n");
  await Deno.writeTextFile(`${dir}/user.nk`, seed + "\n");

  await t.step("password in the URL and in pass_file", async () => {
    await noSecretAnywhere(
      server,
      `  servers: "nats://app:${password}@127.0.0.1:${server.port}"
  user: app
  pass_file: ${dir}/pass`,
      [password],
    );
  });
  await t.step("nkey seed file", async () => {
    await noSecretAnywhere(
      server,
      `  servers: "${server.url}"
  nkey_seed_file: ${dir}/user.nk`,
      [seed],
    );
  });
  await Deno.remove(dir, { recursive: true });
});

Deno.test("secrets: a token never shown", async () => {
  const token = "token-6c0d2e8a4b";
  await using server = await startNatsServer({ config: `authorization { token: "${token}" }` });
  await uploadStream(server, { token });
  await noSecretAnywhere(server, `  servers: "${server.url}"\n  token: "${token}"`, [token]);
});
