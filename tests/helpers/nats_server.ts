/**
 * Starts a real `nats-server` for integration tests: free port, temp JetStream store, stop and
 * restart on the same port and store. The binary comes from `NATS_SERVER_BIN`, `.tools/`, or PATH.
 * @module
 */
import { sleep } from "./assert.ts";

/** A running test server. */
export interface NatsServer extends AsyncDisposable {
  /** Client URL: `nats://127.0.0.1:<port>`, or `tls://…` for a server started with `tls`. */
  url: string;
  /** Client port. */
  port: number;
  /** Monitoring (HTTP) port. */
  monitorPort: number;
  /** JetStream store directory. */
  storeDir: string;
  /** The server's version, e.g. `2.9.10`. */
  version: string;
  /** The running process's id (undefined while stopped): benchmarks read its CPU time. */
  readonly pid: number | undefined;
  /** Stops the server (SIGTERM, wait for exit); its ports stay reserved until `restart()`. */
  stop(): Promise<void>;
  /** Kills the server with SIGKILL. */
  kill(): Promise<void>;
  /** Starts it again on the same ports and store. */
  restart(): Promise<void>;
  /**
   * Freezes the process (SIGSTOP): connections stay open but nothing answers. Resolves once every
   * thread has stopped: `kill` returns before they have, and a server thread still running
   * answered a PING sent right after it (a drain "to a frozen server" then finished at once).
   */
  pause(): Promise<void>;
  /** Lets a paused server run again (SIGCONT). */
  resume(): void;
  /** Stops it and removes its store. */
  close(): Promise<void>;
}

/** Options for {@link startNatsServer}. */
export interface NatsServerOptions {
  /** Extra config-file text (e.g. `authorization { ... }`). */
  config?: string;
  /** Use this client port instead of a free one. */
  port?: number;
  /**
   * Require TLS with this certificate; `verify`: also require a client certificate from `ca`;
   * `handshakeFirst`: TLS before INFO (nats-server 2.10+).
   */
  tls?: { cert: string; key: string; ca?: string; verify?: boolean; handshakeFirst?: boolean };
}

function tlsBlock(tls: NonNullable<NatsServerOptions["tls"]>): string {
  return `tls {
  cert_file: "${tls.cert}"
  key_file: "${tls.key}"
  ${tls.ca ? `ca_file: "${tls.ca}"` : ""}
  verify: ${tls.verify === true}
  ${tls.handshakeFirst ? "handshake_first: true" : ""}
  timeout: 5
}`;
}

const ROOT = new URL("../../", import.meta.url).pathname;

/** The nats-server binary tests use. */
export function natsServerBin(): string {
  const fromEnv = Deno.env.get("NATS_SERVER_BIN");
  if (fromEnv) return fromEnv;
  for (const candidate of [".tools/nats-current/nats-server", ".tools/nats-2.9/nats-server"]) {
    try {
      Deno.statSync(ROOT + candidate);
      return ROOT + candidate;
    } catch { /* try the next one */ }
  }
  return "nats-server";
}

/** The version `bin --version` reports, e.g. `2.9.10` (`0.0.0` when it names none). */
export async function natsServerVersion(bin: string): Promise<string> {
  const out = await new Deno.Command(bin, { args: ["--version"], stdout: "piped" }).output();
  return /v?(\d+\.\d+\.\d+)/.exec(new TextDecoder().decode(out.stdout))?.[1] ?? "0.0.0";
}

/**
 * The kernel's ephemeral port range: ports it gives to outgoing connections. A port in it that is
 * dialled before its server listens (a route to a node still starting, a readiness poll) can be
 * taken by the dialler itself (a TCP self-connect on loopback), and the server then fails with
 * "address already in use". So test servers listen below it.
 */
function ephemeralStart(): number {
  try {
    return Number(Deno.readTextFileSync("/proc/sys/net/ipv4/ip_local_port_range").split(/\s+/)[0]);
  } catch {
    return 32768; // Linux's default; elsewhere a port below it is as good
  }
}

/** Lowest port tests pick: above the well-known and registered ports most services use. */
const LOWEST = 10_000;

/**
 * This process's next candidate port. Ports are handed out in turn from a random start: one
 * process never hands out the same port twice (picked at random, two of a cluster's nine ports
 * were once the same, a node then failed to bind its monitor port), and two processes' runs of
 * ports rarely overlap.
 */
let nextPort: number | undefined;

/** A free TCP port on 127.0.0.1, below the ephemeral range (see {@link ephemeralStart}). */
export function freePort(): number {
  const highest = Math.max(LOWEST + 1000, ephemeralStart());
  const span = highest - LOWEST;
  let port = nextPort ?? LOWEST + Math.floor(Math.random() * span);
  for (let attempt = 0; attempt < 200; attempt++, port = nextPort) {
    nextPort = LOWEST + (port - LOWEST + 1) % span;
    try {
      Deno.listen({ hostname: "127.0.0.1", port }).close();
      return port;
    } catch {
      // taken: try the next one
    }
  }
  throw new Error(`no free port between ${LOWEST} and ${highest}`);
}

async function waitForPort(port: number, child: Deno.ChildProcess, timeoutMs = 10_000) {
  const until = Date.now() + timeoutMs;
  let exited = false;
  child.status.then(() => (exited = true));
  while (Date.now() < until) {
    if (exited) throw new Error("nats-server exited during start-up");
    try {
      const res = await fetch(`http://127.0.0.1:${port}/healthz?js-enabled-only=true`);
      await res.body?.cancel();
      if (res.ok) return;
    } catch { /* not up yet */ }
    await sleep(50);
  }
  throw new Error(`nats-server did not become healthy on monitoring port ${port}`);
}

/**
 * Keeps a stopped server's ports from going to another test's server (tests run in parallel, and
 * a freed port is soon handed out again): every connection is accepted and closed at once, which
 * a client sees as a server that is down. Returns the release.
 */
function holdPorts(ports: number[]): () => void {
  const listeners: Deno.Listener[] = [];
  for (const port of ports) {
    try {
      listeners.push(Deno.listen({ hostname: "127.0.0.1", port }));
    } catch { /* already taken: nothing to hold */ }
  }
  for (const listener of listeners) {
    (async () => {
      for await (const conn of listener) conn.close();
    })().catch(() => {/* the listener was closed */});
  }
  return () => listeners.forEach((l) => l.close());
}

/**
 * Waits until every port can be bound again. A closed Deno listener with an `accept` still
 * pending lets go of its socket only a tick or two later; a server started at once would find
 * its port in use and exit.
 */
async function untilBindable(ports: number[], timeoutMs = 5_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (const port of ports) {
    while (true) {
      try {
        Deno.listen({ hostname: "127.0.0.1", port }).close();
        break;
      } catch (err) {
        if (Date.now() > until) throw new Error(`port ${port} is still in use: ${err}`);
        await sleep(10);
      }
    }
  }
}

/** Starts a JetStream-enabled server; stop it with `close()` (or `await using`). */
export async function startNatsServer(options: NatsServerOptions = {}): Promise<NatsServer> {
  const bin = natsServerBin();
  const dir = await Deno.makeTempDir({ prefix: "jetport-nats-" });
  const storeDir = `${dir}/store`;
  let port = options.port ?? freePort();
  let monitorPort = freePort();
  const confFile = `${dir}/nats.conf`;
  const writeConf = () =>
    Deno.writeTextFile(
      confFile,
      `listen: 127.0.0.1:${port}
http: 127.0.0.1:${monitorPort}
jetstream { store_dir: "${storeDir}" }
${options.tls ? tlsBlock(options.tls) : ""}
${options.config ?? ""}
`,
    );
  await writeConf();
  const version = await natsServerVersion(bin);
  const logFile = `${dir}/nats.log`;

  let child: Deno.ChildProcess | undefined;
  let release: (() => void) | undefined;
  const spawn = async () => {
    if (release) {
      release();
      release = undefined;
      await untilBindable([port, monitorPort]);
    }
    child = new Deno.Command(bin, {
      args: ["-c", confFile, "-l", logFile],
      stdout: "null",
      stderr: "null",
    }).spawn();
    await waitForPort(monitorPort, child);
  };
  // A port found free can be bound by another test process before this server binds it (tests run
  // in parallel processes, each picking its own ports): only the server's own bind tells. On a
  // first start whose ports were picked here, that loss is not the test's: new ports are picked.
  for (let tries = 1;; tries++) {
    try {
      await spawn();
      break;
    } catch (err) {
      const log = await Deno.readTextFile(logFile).catch(() => "");
      if (options.port !== undefined || tries === 5 || !/address already in use/i.test(log)) {
        throw err;
      }
      port = freePort();
      monitorPort = freePort();
      await writeConf();
      await Deno.remove(logFile).catch(() => {});
    }
  }
  const halt = async (signal: Deno.Signal) => {
    if (!child) return;
    try {
      child.kill(signal);
    } catch { /* already gone */ }
    await child.status;
    child = undefined;
    release = holdPorts([port, monitorPort]);
  };

  const close = async () => {
    try {
      child?.kill("SIGCONT"); // a paused server cannot act on SIGTERM
    } catch { /* already gone */ }
    await halt("SIGTERM");
    release?.();
    release = undefined;
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  return {
    url: `${options.tls ? "tls" : "nats"}://127.0.0.1:${port}`,
    port,
    monitorPort,
    storeDir,
    version,
    get pid() {
      return child?.pid;
    },
    stop: () => halt("SIGTERM"),
    kill: () => halt("SIGKILL"),
    restart: spawn,
    async pause() {
      if (!child) return;
      child.kill("SIGSTOP");
      await untilStopped(child.pid);
    },
    resume: () => child?.kill("SIGCONT"),
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** Resolves once every thread of process `pid` is stopped (state `T` in /proc; Linux). */
async function untilStopped(pid: number): Promise<void> {
  const until = Date.now() + 10_000;
  const stopped = () =>
    [...Deno.readDirSync(`/proc/${pid}/task`)].every((t) =>
      /^\d+ \(.*\) T /.test(Deno.readTextFileSync(`/proc/${pid}/task/${t.name}/stat`))
    );
  while (!stopped()) {
    if (Date.now() > until) throw new Error(`nats-server ${pid} did not stop within 10 s`);
    await new Promise((r) => setTimeout(r, 1));
  }
}
