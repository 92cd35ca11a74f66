/**
 * A `jetport run` daemon with only the watcher on one root, as the start-up and burst benches
 * both run it: its own process with the daemon's permissions and V8 flags.
 * @module
 */
import { freePort } from "../helpers/nats_server.ts";
import { jetportCommand } from "../helpers/jetport.ts";
import { readyz } from "../helpers/readyz.ts";

/** A running watcher daemon; disposing of it stops it and removes its config and state. */
export interface WatcherDaemon extends AsyncDisposable {
  /** The daemon's process. */
  child: Deno.ChildProcess;
  /** ms from spawn to the first `/readyz` 200. */
  readyMs: number;
}

/** Starts `jetport run` watching `root` (watch `name`, `settle` when given) and waits for ready. */
export async function startWatcherDaemon(
  natsUrl: string,
  root: string,
  name: string,
  settle?: string,
): Promise<WatcherDaemon> {
  const port = freePort();
  const config = `${root}.yaml`;
  await Deno.writeTextFile(
    config,
    `nats: { servers: "${natsUrl}" }
http: { listen: "127.0.0.1:${port}" }
state_dir: ${root}-state
roles:
  watcher:
    watches: [{ name: ${name}, path: ${root}${settle ? `, settle: ${settle}` : ""} }]
`,
  );
  const t0 = performance.now();
  const child = jetportCommand(["run", "--config", config], { stdout: "null", stderr: "null" })
    .spawn();
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch { /* gone */ }
    await child.status;
    await Deno.remove(`${root}-state`, { recursive: true }).catch(() => {});
    await Deno.remove(config).catch(() => {});
  };
  try {
    while (await readyz(port).then((r) => r.status, () => 0) !== 200) {
      if (performance.now() - t0 > 60_000) throw new Error("jetport run not ready after 60 s");
      await new Promise((r) => setTimeout(r, 5));
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { child, readyMs: performance.now() - t0, [Symbol.asyncDispose]: stop };
}
