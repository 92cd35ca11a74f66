/**
 * Why a connection to NATS failed, as one line that says what failed and what to check.
 *
 * nats.js reports most TLS problems badly: a server that requires a client certificate the config
 * does not give, or that rejects the one given, closes the socket during the handshake and the
 * client sees only `timeout` or a closed connection. So after a failure the server's INFO line
 * (sent in plain text before any TLS, unless `handshake_first`) is read once more on a separate
 * socket: it says whether TLS and a client certificate are required. Expired `.creds` are
 * recognised from the JWT itself. No message ever contains a secret.
 * @module
 */
import { errors } from "@nats-io/nats-core";
import type { NatsConfig } from "../config/schema.ts";
import { beforeDeadline, DEADLINE_PASSED } from "../platform/delay.ts";

/** Connecting to NATS failed; the message says what failed and what to check, never a secret. */
export class NatsConnectError extends Error {
  /** What failed and what to check, without the servers (from {@link explainConnectFailure}). */
  readonly reason: string;
  /** `cannot connect to NATS at <servers>: <reason>`. */
  constructor(servers: string, reason: string) {
    super(`cannot connect to NATS at ${servers}: ${reason}`);
    this.name = "NatsConnectError";
    this.reason = reason;
  }
}

/** The fields of a server's INFO this module reads. */
interface ServerInfo {
  tls_required?: boolean;
  tls_verify?: boolean;
  tls_available?: boolean;
  auth_required?: boolean;
}

/** How long the INFO probe may take. */
const PROBE_MS = 2000;

/** Reads the first INFO line of `host:port`, or undefined when none comes within the probe time. */
async function probeInfo(host: string, port: number): Promise<ServerInfo | undefined> {
  let conn: Deno.TcpConn | undefined;
  const read = async () => {
    conn = await Deno.connect({ hostname: host, port });
    const buf = new Uint8Array(64 * 1024);
    let text = "";
    while (!text.includes("\r\n")) {
      const n = await conn.read(buf.subarray(0));
      if (n === null) return undefined;
      text += new TextDecoder().decode(buf.subarray(0, n));
    }
    const m = /^INFO\s+(\{.*\})\s*\r\n/.exec(text);
    return m ? JSON.parse(m[1]) as ServerInfo : undefined;
  };
  try {
    const info = await beforeDeadline(read(), Date.now() + PROBE_MS);
    return info === DEADLINE_PASSED ? undefined : info;
  } catch {
    return undefined;
  } finally {
    try {
      conn?.close();
    } catch { /* already closed */ }
  }
}

/** `host` and `port` of a server URL (`tls://host:4222`, `host:4222`, `[::1]:4222`). */
function hostPort(server: string): { host: string; port: number } {
  const rest = server.replace(/^\w+:\/\//, "").replace(/^[^@/]*@/, "").replace(/\/.*$/, "");
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(rest);
  return {
    host: (m?.[1] ?? "127.0.0.1").replace(/^\[|\]$/g, ""),
    port: Number(m?.[2] ?? 4222),
  };
}

/** When the user JWT in a `.creds` file expires (epoch seconds), if it says. */
async function credsExpiry(file: string): Promise<number | undefined> {
  try {
    const text = await Deno.readTextFile(file);
    const jwt = /-----BEGIN NATS USER JWT-----\s*([\w-]+\.[\w-]+\.[\w-]+)/.exec(text)?.[1];
    if (!jwt) return undefined;
    const payload = jwt.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const claims = JSON.parse(atob(payload.padEnd(Math.ceil(payload.length / 4) * 4, "=")));
    return typeof claims.exp === "number" ? claims.exp : undefined;
  } catch {
    return undefined;
  }
}

/** Which credentials the config gives, by the keys a user would fix. */
function credentialKeys(cfg: NatsConfig, fromUrl: boolean): string {
  if (cfg.creds_file) return `the .creds file (nats.creds_file: ${cfg.creds_file})`;
  if (cfg.nkey_seed_file) return `the nkey (nats.nkey_seed_file: ${cfg.nkey_seed_file})`;
  if (cfg.token !== undefined) return "the token (nats.token)";
  if (cfg.user !== undefined) return `user ${cfg.user} and its password (nats.user / nats.pass)`;
  if (fromUrl) return "the user and password (or token) in the server URL";
  return "no credentials: set nats.user/pass, token, nkey_seed_file or creds_file";
}

const CERT_PROBLEM =
  /certificate|self[- ]signed|unable to (get|verify)|CERT_|altnames|hostname.*match|DEPTH_ZERO/i;

/**
 * One line saying why connecting with `cfg` failed with `err`, and what to check.
 * `fromUrl`: the credentials came from a server URL.
 */
export async function explainConnectFailure(
  err: unknown,
  cfg: NatsConfig,
  servers: string[],
  fromUrl = false,
): Promise<string> {
  const message = err instanceof Error ? err.message : String(err);
  const code = (err as { code?: string } | undefined)?.code ?? "";
  const expiry = cfg.creds_file ? await credsExpiry(cfg.creds_file) : undefined;
  if (
    err instanceof errors.UserAuthenticationExpiredError ||
    (expiry !== undefined && expiry * 1000 <= Date.now())
  ) {
    const when = expiry !== undefined ? ` at ${new Date(expiry * 1000).toISOString()}` : "";
    return `the user JWT in ${cfg.creds_file} expired${when}: get a fresh .creds file from the account's operator`;
  }
  if (err instanceof errors.AuthorizationError || /authori[sz]ation violation/i.test(message)) {
    return `authorization failed: the server refused ${
      credentialKeys(cfg, fromUrl)
    }; check them against the server's users (and the account, for .creds)`;
  }
  // A TLS alert is the server refusing us (our certificate, or the lack of one): the INFO probe
  // below tells which. Any other certificate error is ours refusing the server's certificate.
  const alert = /fatal alert/i.test(message);
  if (!alert && (CERT_PROBLEM.test(message) || CERT_PROBLEM.test(code))) {
    return `TLS: the server's certificate is not trusted (${message}): set nats.tls.ca_file to the CA that signed it, and connect by a name or IP the certificate lists`;
  }
  const { host, port } = hostPort(servers[0] ?? "127.0.0.1:4222");
  if (code === "ECONNREFUSED" || /connection refused/i.test(message)) {
    return `connection refused by ${host}:${port}: is nats-server running and listening there?`;
  }
  const info = cfg.tls?.handshake_first ? undefined : await probeInfo(host, port);
  if (info?.tls_verify && !cfg.tls?.cert_file) {
    return "the server requires a client certificate (TLS verify): set nats.tls.cert_file and nats.tls.key_file to a certificate signed by a CA the server trusts";
  }
  if (info?.tls_verify && (alert || /timeout|closed|disconnect|reset|EPIPE/i.test(message))) {
    return `TLS handshake failed: the server did not accept the client certificate ${cfg.tls?.cert_file}; check that a CA the server trusts signed it and that it has not expired`;
  }
  if (info && !info.tls_required && !info.tls_available && cfg.tls) {
    return "the server does not offer TLS: remove nats.tls (and use nats:// URLs), or enable TLS on the server";
  }
  if (err instanceof errors.TimeoutError || /timeout/i.test(message)) {
    return `no answer from ${host}:${port} within nats.timeout (${cfg.timeout} ms): check the address and firewalls, and whether the server expects TLS first (nats.tls.handshake_first)`;
  }
  return message;
}
