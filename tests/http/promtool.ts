/**
 * promtool (from Debian's prometheus package, installed into .tools/ by scripts/install-tools.sh)
 * as tests use it: the real Prometheus parser for the exposition format and for rule files.
 * @module
 */

/** promtool's path: $PROMTOOL_BIN, else .tools/prometheus/promtool; undefined when absent. */
export function promtoolPath(): string | undefined {
  const path = Deno.env.get("PROMTOOL_BIN") ??
    new URL("../../.tools/prometheus/promtool", import.meta.url).pathname;
  try {
    return Deno.statSync(path).isFile ? path : undefined;
  } catch {
    return undefined;
  }
}

/** Why promtool tests are skipped, when they are. */
export const NO_PROMTOOL =
  "promtool not installed (bash scripts/install-tools.sh puts it in .tools/prometheus)";

/** Runs `promtool args...` with `stdin`; resolves with its exit code and output. */
export async function promtool(
  args: string[],
  stdin?: string,
): Promise<{ code: number; output: string }> {
  const child = new Deno.Command(promtoolPath()!, {
    args,
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(stdin));
    await w.close();
  }
  const out = await child.output();
  const dec = new TextDecoder();
  return { code: out.code, output: dec.decode(out.stdout) + dec.decode(out.stderr) };
}
