/**
 * The Go baselines of `make bench`: builds `tests/bench/go/baseline` (one program, three
 * commands) with Debian's Go toolchain and nats.go (`scripts/install-tools.sh bench` installs
 * both), and runs it. The Go client is the reference for what a NATS client can do on this
 * machine, so jetport's figures are printed as a ratio of it, measured in the same run.
 * @module
 */

/** What one baseline run reports. */
export interface GoResult {
  /** Messages or events handled. */
  count: number;
  /** Wall time of the work, start-up excluded. */
  seconds: number;
  /** The program's CPU time (user + system), start-up included. */
  cpu_seconds: number;
}

/** A no-op HTTP endpoint served by the baseline program (`baseline noop-http`). */
export interface GoEndpoint extends AsyncDisposable {
  /** Its port on 127.0.0.1. */
  port: number;
  /** Its process id. */
  pid: number;
}

/** A built baseline program. */
export interface GoBaseline {
  /** Runs `baseline <command> ...args`; rejects with its stderr when it fails. */
  run(command: "publish" | "consume" | "upload", args: string[]): Promise<GoResult>;
  /** Starts `baseline noop-http`: answers `{}` to every request until disposed. */
  noopEndpoint(): Promise<GoEndpoint>;
}

/** Where Debian's golang-github-nats-io-go-nats-dev puts nats.go (GOPATH layout). */
const GOPATH = "/usr/share/gocode";

let built: Promise<GoBaseline> | undefined;

/** Builds the baseline program once per process (the Go build cache lives in `.tools/`). */
export function goBaseline(): Promise<GoBaseline> {
  built ??= build();
  return built;
}

async function build(): Promise<GoBaseline> {
  const root = new URL("../../../", import.meta.url).pathname;
  const bin = `${await Deno.makeTempDir({ prefix: "jetport-bench-go-" })}/baseline`;
  const env = {
    GO111MODULE: "off",
    GOPATH,
    GOCACHE: `${root}.tools/go-cache`,
    GOFLAGS: "",
  };
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command("go", {
      args: ["build", "-o", bin, "./tests/bench/go/baseline"],
      cwd: root,
      env,
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch (err) {
    throw new Error(`go not found (${err}): run scripts/install-tools.sh bench`);
  }
  if (!out.success) {
    throw new Error(
      `building the Go baseline failed (needs golang-go and golang-github-nats-io-go-nats-dev: ` +
        `scripts/install-tools.sh bench):\n${new TextDecoder().decode(out.stderr)}`,
    );
  }
  return {
    async run(command, args) {
      const res = await new Deno.Command(bin, {
        args: [command, ...args],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stderr = new TextDecoder().decode(res.stderr).trim();
      if (!res.success) throw new Error(`Go baseline ${command} failed: ${stderr}`);
      return JSON.parse(new TextDecoder().decode(res.stdout)) as GoResult;
    },
    async noopEndpoint() {
      const child = new Deno.Command(bin, {
        args: ["noop-http"],
        stdin: "piped",
        stdout: "piped",
        stderr: "inherit",
      }).spawn();
      const text = child.stdout.pipeThrough(new TextDecoderStream());
      const reader = text.getReader();
      let line = "";
      while (!line.includes("\n")) {
        const chunk = await reader.read();
        if (chunk.done) throw new Error(`Go baseline noop-http exited: ${await child.status}`);
        line += chunk.value;
      }
      reader.releaseLock();
      const { port } = JSON.parse(line) as { port: number };
      return {
        port,
        pid: child.pid,
        async [Symbol.asyncDispose]() {
          await child.stdin.close();
          await text.cancel().catch(() => {});
          await child.status;
        },
      };
    },
  };
}
