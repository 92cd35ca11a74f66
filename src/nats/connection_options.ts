/**
 * nats.js connection options from the `nats:` config section.
 *
 * Credentials may come from the config keys or, as with the Go client and the `nats` CLI, from a
 * server URL (`tls://alice:secret@host:4222`, `nats://TOKEN@host:4222`). nats.js ignores a URL's
 * user info, so it is taken out here: the URLs nats.js gets (and that logs and `/readyz` show)
 * carry no secret, and the password or token becomes the connection's credentials unless the
 * config names a method itself. A `tls://` URL makes TLS required, as its scheme promises. Every
 * secret read here (URL password or token, nkey seed, the seed in a `.creds` file) is registered
 * for redaction.
 * @module
 */
import { type ConnectionOptions, credsAuthenticator, nkeyAuthenticator } from "@nats-io/nats-core";
import type { NatsConfig } from "../config/schema.ts";
import { registerSecret } from "../platform/redact.ts";

/** Credentials found in server URLs. */
export interface UrlCredentials {
  /** The URLs without their user info. */
  servers: string[];
  /** `user:pass@` */
  user?: string;
  /** The password of `user:pass@`. */
  pass?: string;
  /** `token@` */
  token?: string;
}

const USER_INFO = /^(\w+:\/\/)?([^@/]*)@/;

/** Takes the user info out of every URL; the first URL that has any gives the credentials. */
export function splitServerCredentials(servers: string[]): UrlCredentials {
  const out: UrlCredentials = { servers: [] };
  let found = false;
  for (const server of servers) {
    const m = USER_INFO.exec(server);
    out.servers.push(m ? server.replace(USER_INFO, "$1") : server);
    if (!m || found) continue;
    found = true;
    const info = m[2];
    const colon = info.indexOf(":");
    if (colon < 0) out.token = decodeURIComponent(info);
    else {
      out.user = decodeURIComponent(info.slice(0, colon));
      out.pass = decodeURIComponent(info.slice(colon + 1));
    }
  }
  registerSecret(out.pass);
  registerSecret(out.token);
  return out;
}

/** What {@link connectionOptions} builds. */
export interface NatsOptions {
  /** Options for nats.js `connect()`. */
  options: ConnectionOptions;
  /** The servers, without credentials: safe to show. */
  servers: string[];
  /** True when the credentials in use came from a server URL. */
  credentialsFromUrl: boolean;
}

/** Reads the file config key `key` names; a failure says which key and file. */
async function readConfigFile(key: string, path: string): Promise<Uint8Array> {
  try {
    return await Deno.readFile(path);
  } catch (err) {
    const why = err instanceof Deno.errors.NotFound
      ? "no such file"
      : err instanceof Deno.errors.PermissionDenied
      ? "permission denied"
      : (err as Error).message;
    throw new Error(`cannot read nats.${key} ${path}: ${why}`);
  }
}

/** The seed line of a `.creds` file. */
const CREDS_SEED = /-----BEGIN USER NKEY SEED-----\s*(\S+)/;

/** Builds nats.js connection options from the `nats:` section; see the module doc. */
export async function connectionOptions(cfg: NatsConfig): Promise<NatsOptions> {
  const fromUrl = splitServerCredentials(cfg.servers);
  const opts: ConnectionOptions = {
    servers: fromUrl.servers,
    name: cfg.name,
    maxReconnectAttempts: cfg.reconnect.max_attempts,
    reconnectTimeWait: cfg.reconnect.wait,
    reconnectJitter: cfg.reconnect.jitter,
    timeout: cfg.timeout,
    ignoreClusterUpdates: false,
    // nats.js otherwise builds two Errors (stack traces) for every request and confirmed ack, in
    // case it times out: a twentieth of the upload processor's CPU. Our messages name what failed.
    noAsyncTraces: true,
  };
  const configured = cfg.user !== undefined || cfg.token !== undefined || !!cfg.creds_file ||
    !!cfg.nkey_seed_file;
  if (cfg.user !== undefined) {
    opts.user = cfg.user;
    opts.pass = cfg.pass;
  } else if (!configured && fromUrl.user !== undefined) {
    opts.user = fromUrl.user;
    opts.pass = fromUrl.pass;
  }
  if (cfg.token !== undefined) opts.token = cfg.token;
  else if (!configured && fromUrl.token !== undefined) opts.token = fromUrl.token;
  if (cfg.creds_file) {
    const creds = await readConfigFile("creds_file", cfg.creds_file);
    registerSecret(CREDS_SEED.exec(new TextDecoder().decode(creds))?.[1]);
    opts.authenticator = credsAuthenticator(creds);
  }
  if (cfg.nkey_seed_file) {
    const seedFile = await readConfigFile("nkey_seed_file", cfg.nkey_seed_file);
    const seed = new TextDecoder().decode(seedFile).trim();
    registerSecret(seed);
    opts.authenticator = nkeyAuthenticator(new TextEncoder().encode(seed));
  }
  if (cfg.tls) {
    // nats.js reads these only while connecting, and then reports a missing one vaguely.
    for (const key of ["ca_file", "cert_file", "key_file"] as const) {
      const path = cfg.tls[key];
      if (path) await readConfigFile(`tls.${key}`, path);
    }
    opts.tls = {
      caFile: cfg.tls.ca_file,
      certFile: cfg.tls.cert_file,
      keyFile: cfg.tls.key_file,
      handshakeFirst: cfg.tls.handshake_first,
    };
  } else if (fromUrl.servers.some((s) => s.startsWith("tls://"))) {
    opts.tls = {};
  }
  return {
    options: opts,
    servers: fromUrl.servers,
    credentialsFromUrl: !configured &&
      (fromUrl.user !== undefined || fromUrl.token !== undefined),
  };
}
