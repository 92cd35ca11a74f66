/**
 * Every way to authenticate, against a real nats-server: TLS with client certificates (mTLS) and
 * users by password and by nkey, a token, and operator/JWT mode with a `.creds` file. For each,
 * `jetport provision apply` works and a daemon becomes ready, also with the credentials inside
 * the server URL. Each refusal (wrong password, no client certificate, untrusted CA, expired
 * `.creds`) exits 1 with one line that says what failed and what to check, and no secret.
 * Certificates come from `openssl`, JWTs from nkeys made per run (tests/helpers).
 */
import { createUser } from "@nats-io/nkeys";
import { assert, assertEquals, assertMatch, waitFor } from "../helpers/assert.ts";
import { makeCerts } from "../helpers/certs.ts";
import { writeConfig } from "../helpers/config.ts";
import { jetport, startDaemon } from "../helpers/jetport.ts";
import { makeOperator } from "../helpers/nats_jwt.ts";
import {
  freePort,
  natsServerBin,
  natsServerVersion,
  startNatsServer,
} from "../helpers/nats_server.ts";
import { readyz, waitReady } from "../helpers/readyz.ts";

const PROVISIONER = `
roles:
  stream_provisioner:
    streams:
      - { name: AUTH, subjects: ["auth.>"] }
`;

/** Runs `provision apply` with this `nats:` section (a YAML flow map). */
async function apply(nats: string) {
  const file = await writeConfig(`nats: ${nats}\n${PROVISIONER}`);
  return await jetport(["provision", "apply", "--config", file]);
}

/** `provision apply` with this `nats:` section succeeds. */
async function provisions(nats: string): Promise<void> {
  const out = await apply(nats);
  assertEquals(out.code, 0, out.stdout + out.stderr);
  assertMatch(out.stdout, /stream AUTH: (created|unchanged)/);
}

/** A daemon with this `nats:` section reaches ready and stops with exit 0. */
async function daemonReady(nats: string): Promise<void> {
  const port = freePort();
  await using daemon = startDaemon(
    await writeConfig(`nats: ${nats}
http: { listen: "127.0.0.1:${port}" }
${PROVISIONER}`),
  );
  await waitReady(port, 30_000, `ready with ${nats}`).catch((err) => {
    throw new Error(`${err.message}\n${daemon.logs()}`);
  });
  daemon.signal("SIGTERM");
  assertEquals((await daemon.exit()).code, 0, daemon.logs());
}

/**
 * `provision apply` with this `nats:` section exits 1 with one line matching `expected`, without
 * a stack trace or any of `secrets`.
 */
async function refused(nats: string, expected: RegExp, secrets: string[] = []): Promise<void> {
  const out = await apply(nats);
  assertEquals(out.code, 1, out.stdout + out.stderr);
  const lines = out.stderr.trimEnd().split("\n");
  assertEquals(lines.length, 1, `one line, got:\n${out.stderr}`);
  assertMatch(lines[0], expected);
  assert(!/\s+at \S+ \(|\.ts:\d+/.test(out.stderr), `stack trace:\n${out.stderr}`);
  for (const s of secrets) {
    assert(!(out.stdout + out.stderr).includes(s), `secret shown:\n${out.stderr}`);
  }
}

Deno.test("auth: mTLS with users by password and by nkey; refusals say what failed", async (t) => {
  await using certs = await makeCerts();
  const password = "pw-7f3a9c1e-secret";
  const nkeyUser = createUser();
  const seedFile = `${certs.dir}/user.nk`;
  await Deno.writeTextFile(seedFile, new TextDecoder().decode(nkeyUser.getSeed()) + "\n");
  await using server = await startNatsServer({
    tls: { cert: certs.serverCert, key: certs.serverKey, ca: certs.ca, verify: true },
    config: `authorization {
  users: [
    { user: alice, password: "${password}" }
    { nkey: ${nkeyUser.getPublicKey()} }
  ]
}`,
  });
  const tls =
    `tls: { ca_file: "${certs.ca}", cert_file: "${certs.clientCert}", key_file: "${certs.clientKey}" }`;
  const byPassword = `{ servers: "${server.url}", user: alice, pass: "${password}", ${tls} }`;
  const byNkey = `{ servers: "${server.url}", nkey_seed_file: "${seedFile}", ${tls} }`;
  const inUrl = `{ servers: "tls://alice:${password}@127.0.0.1:${server.port}", ${tls} }`;

  await t.step("user and password: provision apply and daemon ready", async () => {
    await provisions(byPassword);
    await daemonReady(byPassword);
  });
  await t.step("nkey seed file: provision apply and daemon ready", async () => {
    await provisions(byNkey);
    await daemonReady(byNkey);
  });
  await t.step("user and password inside the URL: provision apply and daemon ready", async () => {
    await provisions(inUrl);
    await daemonReady(inUrl);
  });
  await t.step("wrong password → authorization failed", async () => {
    await refused(
      `{ servers: "${server.url}", user: alice, pass: "wrong-${password}", ${tls} }`,
      /^jetport provision: cannot connect to NATS at tls:\/\/127\.0\.0\.1:\d+: authorization failed: .*nats\.user \/ nats\.pass/,
      [`wrong-${password}`],
    );
    await refused(
      `{ servers: "tls://alice:wrong-${password}@127.0.0.1:${server.port}", ${tls} }`,
      /authorization failed: .*in the server URL/,
      [`wrong-${password}`],
    );
  });
  const noClientCert =
    `{ servers: "${server.url}", user: alice, pass: "${password}", timeout: 2s, tls: { ca_file: "${certs.ca}" } }`;
  const requiresCert = /the server requires a client certificate .*nats\.tls\.cert_file/;
  await t.step("no client certificate → the server requires one", async () => {
    await refused(noClientCert, requiresCert, [password]);
  });
  await t.step("no client certificate: the daemon's /readyz and log say so", async () => {
    const port = freePort();
    await using daemon = startDaemon(
      await writeConfig(`nats: ${noClientCert}
http: { listen: "127.0.0.1:${port}" }
${PROVISIONER}`),
    );
    const body = await waitFor(
      async () => {
        const r = await readyz(port).catch(() => undefined);
        return r && requiresCert.test(r.body) ? r : undefined;
      },
      30_000,
      "/readyz names the missing client certificate",
    );
    assertEquals(body.status, 503);
    await daemon.waitForLog(/ERROR \[nats\] cannot connect to NATS at .*requires a client cert/);
    daemon.signal("SIGTERM");
    assertEquals((await daemon.exit()).code, 0, daemon.logs());
    assert(!/\s+at \S+ \(|Uncaught/.test(daemon.logs()), daemon.logs());
    assert(!daemon.logs().includes(password), "password in the log");
  });
  await t.step("client certificate from a CA the server does not trust → rejected", async () => {
    await refused(
      `{ servers: "${server.url}", user: alice, pass: "${password}", timeout: 2s, tls: { ca_file: "${certs.ca}", cert_file: "${certs.otherClientCert}", key_file: "${certs.otherClientKey}" } }`,
      /TLS handshake failed: the server did not accept the client certificate .*other-client\.pem/,
      [password],
    );
  });
  await t.step("server certificate from a CA the client does not trust → not trusted", async () => {
    await refused(
      `{ servers: "${server.url}", user: alice, pass: "${password}", tls: { ca_file: "${certs.otherCa}", cert_file: "${certs.clientCert}", key_file: "${certs.clientKey}" } }`,
      /TLS: the server's certificate is not trusted .*nats\.tls\.ca_file/,
      [password],
    );
  });
});

Deno.test("auth: token, in the config and in the URL; a wrong token is refused", async (t) => {
  const token = "tok-4b8e0d2f-secret";
  await using server = await startNatsServer({ config: `authorization { token: "${token}" }` });
  await t.step("token: provision apply and daemon ready", async () => {
    const nats = `{ servers: "${server.url}", token: "${token}" }`;
    await provisions(nats);
    await daemonReady(nats);
  });
  await t.step("token inside the URL: provision apply and daemon ready", async () => {
    const nats = `{ servers: "nats://${token}@127.0.0.1:${server.port}" }`;
    await provisions(nats);
    await daemonReady(nats);
  });
  await t.step("wrong token → authorization failed", async () => {
    await refused(
      `{ servers: "${server.url}", token: "not-${token}" }`,
      /authorization failed: the server refused the token \(nats\.token\)/,
      [`not-${token}`],
    );
  });
});

Deno.test("auth: operator mode with a .creds file; expired or missing files are named as such", async (t) => {
  const operator = makeOperator();
  await using server = await startNatsServer({ config: operator.serverConfig });
  const dir = await Deno.makeTempDir({ prefix: "jetport-creds-" });
  const creds = `${dir}/app.creds`;
  await Deno.writeTextFile(creds, operator.userCreds());
  const expired = `${dir}/expired.creds`;
  const expiredText = operator.userCreds({ expiresAt: Math.floor(Date.now() / 1000) - 3600 });
  await Deno.writeTextFile(expired, expiredText);
  const seed = /SUA[A-Z2-7]+/.exec(expiredText)![0];

  await t.step(".creds: provision apply and daemon ready", async () => {
    const nats = `{ servers: "${server.url}", creds_file: "${creds}" }`;
    await provisions(nats);
    await daemonReady(nats);
  });
  await t.step("expired .creds → says it expired", async () => {
    await refused(
      `{ servers: "${server.url}", creds_file: "${expired}" }`,
      /the user JWT in .*expired\.creds expired at \d{4}-\d\d-\d\dT.*: get a fresh \.creds file/,
      [seed],
    );
  });
  await t.step(
    "missing .creds file or CA file → a config error naming the key and the file",
    async () => {
      for (
        const [nats, expected] of [
          [
            `{ servers: "${server.url}", creds_file: "${dir}/gone.creds" }`,
            /^ {2}.*:\d+:\d+: nats\.creds_file: cannot read .*gone\.creds: no such file$/m,
          ],
          [
            `{ servers: "${server.url}", creds_file: "${creds}", tls: { ca_file: "${dir}/gone.pem" } }`,
            /^ {2}.*:\d+:\d+: nats\.tls\.ca_file: cannot read .*gone\.pem: no such file$/m,
          ],
        ] as const
      ) {
        const out = await apply(nats);
        assertEquals(out.code, 2, out.stdout + out.stderr);
        assertMatch(out.stderr, expected);
      }
    },
  );
  await Deno.remove(dir, { recursive: true });
});

const [major, minor] = (await natsServerVersion(natsServerBin())).split(".").map(Number);

Deno.test({
  name: "auth: TLS first (handshake_first, nats-server 2.10+) with a client certificate",
  ignore: major === 2 && minor < 10,
  async fn() {
    await using certs = await makeCerts();
    await using server = await startNatsServer({
      tls: {
        cert: certs.serverCert,
        key: certs.serverKey,
        ca: certs.ca,
        verify: true,
        handshakeFirst: true,
      },
    });
    const nats =
      `{ servers: "${server.url}", tls: { handshake_first: true, ca_file: "${certs.ca}", cert_file: "${certs.clientCert}", key_file: "${certs.clientKey}" } }`;
    await provisions(nats);
    await daemonReady(nats);
  },
});
