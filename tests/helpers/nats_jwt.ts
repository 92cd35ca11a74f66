/**
 * Operator/JWT-mode credentials for tests, made without `nsc`: an operator, an account with
 * JetStream enabled, and user `.creds` files, each JWT signed with nkeys generated per run. The
 * JWTs carry the claims nats-server 2.9+ checks (issuer chain, type, version 2, expiry); the
 * server gets the operator and the accounts (the application's and the system account JetStream
 * needs) inline through a MEMORY resolver.
 * @module
 */
import { createAccount, createOperator, createUser, type KeyPair } from "@nats-io/nkeys";

/** An operator with one account, ready to serve and to issue users. */
export interface NatsOperator {
  /** nats-server config text: operator, MEMORY resolver, the account preloaded. */
  serverConfig: string;
  /** The text of a `.creds` file for a new user of the account; `expiresAt` in epoch seconds. */
  userCreds(options?: { name?: string; expiresAt?: number }): string;
}

const HEADER = { typ: "JWT", alg: "ed25519-nkey" };

function base64url(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(
    /=+$/,
    "",
  );
}

const utf8 = (s: string) => new TextEncoder().encode(s);

/** A JWT for `subject` with `nats` claims, signed by `issuer`. */
function signJwt(
  issuer: KeyPair,
  subject: string,
  name: string,
  nats: Record<string, unknown>,
  expiresAt?: number,
): string {
  const claims = {
    jti: crypto.randomUUID().replaceAll("-", "").toUpperCase(),
    iat: Math.floor(Date.now() / 1000) - 60,
    ...(expiresAt !== undefined ? { exp: expiresAt } : {}),
    iss: issuer.getPublicKey(),
    name,
    sub: subject,
    nats: { ...nats, version: 2 },
  };
  const body = `${base64url(utf8(JSON.stringify(HEADER)))}.${
    base64url(utf8(JSON.stringify(claims)))
  }`;
  return `${body}.${base64url(issuer.sign(utf8(body)))}`;
}

/** The `.creds` file format nsc writes: the user JWT, then the user's seed. */
function credsFile(jwt: string, seed: string): string {
  return `-----BEGIN NATS USER JWT-----
${jwt}
------END NATS USER JWT------

************************* IMPORTANT *************************
NKEY Seed printed below can be used to sign and prove identity.
NKEYs are sensitive and should be treated as secrets.

-----BEGIN USER NKEY SEED-----
${seed}
------END USER NKEY SEED------

*************************************************************
`;
}

/** Makes an operator and an account with unlimited JetStream. */
export function makeOperator(): NatsOperator {
  const operator = createOperator();
  const account = createAccount();
  // JetStream needs a system account for its internal subscriptions.
  const system = createAccount();
  const operatorJwt = signJwt(operator, operator.getPublicKey(), "jetport-test-operator", {
    type: "operator",
    system_account: system.getPublicKey(),
  });
  const systemJwt = signJwt(operator, system.getPublicKey(), "SYS", { type: "account" });
  const accountJwt = signJwt(operator, account.getPublicKey(), "APP", {
    type: "account",
    limits: {
      subs: -1,
      data: -1,
      payload: -1,
      imports: -1,
      exports: -1,
      wildcards: true,
      conn: -1,
      leaf: -1,
      mem_storage: -1,
      disk_storage: -1,
      streams: -1,
      consumer: -1,
    },
  });
  return {
    serverConfig: `operator: "${operatorJwt}"
system_account: ${system.getPublicKey()}
resolver: MEMORY
resolver_preload: {
  ${account.getPublicKey()}: "${accountJwt}"
  ${system.getPublicKey()}: "${systemJwt}"
}
`,
    userCreds({ name = "app", expiresAt } = {}) {
      const user = createUser();
      const jwt = signJwt(account, user.getPublicKey(), name, {
        type: "user",
        pub: {},
        sub: {},
        subs: -1,
        data: -1,
        payload: -1,
      }, expiresAt);
      return credsFile(jwt, new TextDecoder().decode(user.getSeed()));
    },
  };
}
