/**
 * Runs the jetport CLI as a child process, exactly as `deno task jetport` (and the compiled
 * binary) runs it: same entry point, same permission set.
 * @module
 */
import denoJson from "../../deno.json" with { type: "json" };

const ROOT = new URL("../../", import.meta.url).pathname;

/**
 * The flags the daemon runs with: its permissions and V8 heap tuning (from the `jetport` task in
 * deno.json, which `make build` compiles into the binary).
 */
export const PERMISSIONS: string[] = denoJson.tasks.jetport
  .replace(/^deno run /, "")
  .replace(/ main\.ts$/, "")
  .split(" ");

/** `deno run <permissions> main.ts <args>` as a command, run from the repository root. */
export function jetportCommand(args: string[], options: Deno.CommandOptions = {}): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", ...PERMISSIONS, `${ROOT}main.ts`, ...args],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
    ...options,
  });
}

/** Runs the CLI to completion; returns exit code and output. */
export async function jetport(
  args: string[],
  options: Deno.CommandOptions = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await jetportCommand(args, options).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** A running daemon child process with its output collected. */
export interface Daemon extends AsyncDisposable {
  /** The child process. */
  child: Deno.ChildProcess;
  /** stderr so far (logs). */
  logs(): string;
  /** Waits until `pattern` appears in the logs. */
  waitForLog(pattern: RegExp | string, timeoutMs?: number): Promise<void>;
  /** Sends a signal. */
  signal(sig: Deno.Signal): void;
  /** Waits for exit. */
  exit(): Promise<Deno.CommandStatus>;
}

/**
 * Starts `jetport run --config FILE` in the background; `cwd` (default: the repository root) is
 * where relative paths in the config resolve.
 */
export function startDaemon(
  configFile: string,
  env: Record<string, string> = {},
  cwd?: string,
): Daemon {
  const child = jetportCommand(["run", "--config", configFile], {
    env,
    ...(cwd ? { cwd } : {}),
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let text = "";
  const dec = new TextDecoder();
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream) text += dec.decode(chunk, { stream: true });
  };
  const pumps = Promise.all([pump(child.stdout), pump(child.stderr)]);
  const exit = async () => {
    const status = await child.status;
    await pumps;
    return status;
  };
  return {
    child,
    logs: () => text,
    async waitForLog(pattern, timeoutMs = 15_000) {
      const until = Date.now() + timeoutMs;
      const test = (s: string) =>
        typeof pattern === "string" ? s.includes(pattern) : pattern.test(s);
      while (!test(text)) {
        if (Date.now() > until) throw new Error(`log never showed ${pattern}; logs:\n${text}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    signal: (sig) => child.kill(sig),
    exit,
    async [Symbol.asyncDispose]() {
      try {
        child.kill("SIGKILL");
      } catch { /* exited already */ }
      await exit();
    },
  };
}
