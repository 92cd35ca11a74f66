/**
 * Real X.509 certificates for TLS tests, made with `openssl` into a temp directory: a CA, a
 * server certificate for 127.0.0.1/localhost, a client certificate signed by the CA, and a second
 * CA with its own client certificate that the server does not trust. Nothing is committed: keys
 * made per run cannot leak or expire in the repository.
 * @module
 */

/** Paths of the PEM files {@link makeCerts} wrote. */
export interface Certs extends AsyncDisposable {
  /** The directory holding every file. */
  dir: string;
  /** The CA that signed the server and the client certificate. */
  ca: string;
  /** Server certificate (SAN 127.0.0.1, localhost) and its key. */
  serverCert: string;
  /** The server certificate's key. */
  serverKey: string;
  /** Client certificate (CN alice) signed by {@link Certs.ca}, and its key. */
  clientCert: string;
  /** The client certificate's key. */
  clientKey: string;
  /** A CA nobody trusts. */
  otherCa: string;
  /** A client certificate signed by {@link Certs.otherCa}. */
  otherClientCert: string;
  /** Its key. */
  otherClientKey: string;
  /** Removes the directory. */
  remove(): Promise<void>;
}

async function openssl(dir: string, args: string[]): Promise<void> {
  const out = await new Deno.Command("openssl", { args, cwd: dir, stdout: "null", stderr: "piped" })
    .output();
  if (!out.success) {
    throw new Error(`openssl ${args[0]} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
}

/** EC P-256 keys: as good as RSA here and generated in milliseconds. */
const NEW_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

async function makeCa(dir: string, name: string): Promise<void> {
  await openssl(dir, [
    "req",
    "-x509",
    ...NEW_KEY,
    "-keyout",
    `${name}.key`,
    "-out",
    `${name}.pem`,
    "-days",
    "2",
    "-subj",
    `/CN=jetport test ${name}`,
  ]);
}

async function makeLeaf(
  dir: string,
  ca: string,
  name: string,
  cn: string,
  extensions: string,
): Promise<void> {
  await Deno.writeTextFile(`${dir}/${name}.ext`, extensions);
  await openssl(dir, [
    "req",
    ...NEW_KEY,
    "-keyout",
    `${name}.key`,
    "-out",
    `${name}.csr`,
    "-subj",
    `/CN=${cn}`,
  ]);
  await openssl(dir, [
    "x509",
    "-req",
    "-in",
    `${name}.csr`,
    "-CA",
    `${ca}.pem`,
    "-CAkey",
    `${ca}.key`,
    "-CAcreateserial",
    "-out",
    `${name}.pem`,
    "-days",
    "2",
    "-extfile",
    `${name}.ext`,
  ]);
}

/** Generates the CAs and certificates; `await using` removes them. */
export async function makeCerts(): Promise<Certs> {
  const dir = await Deno.makeTempDir({ prefix: "jetport-certs-" });
  await makeCa(dir, "ca");
  await makeCa(dir, "other-ca");
  await makeLeaf(
    dir,
    "ca",
    "server",
    "127.0.0.1",
    "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
  );
  const client = "extendedKeyUsage=clientAuth\n";
  await makeLeaf(dir, "ca", "client", "alice", client);
  await makeLeaf(dir, "other-ca", "other-client", "mallory", client);
  const remove = () => Deno.remove(dir, { recursive: true }).catch(() => {});
  return {
    dir,
    ca: `${dir}/ca.pem`,
    serverCert: `${dir}/server.pem`,
    serverKey: `${dir}/server.key`,
    clientCert: `${dir}/client.pem`,
    clientKey: `${dir}/client.key`,
    otherCa: `${dir}/other-ca.pem`,
    otherClientCert: `${dir}/other-client.pem`,
    otherClientKey: `${dir}/other-client.key`,
    remove,
    [Symbol.asyncDispose]: remove,
  };
}
