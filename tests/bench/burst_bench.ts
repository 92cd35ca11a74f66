/**
 * Watcher burst: 100k files created as fast as possible (flat, then across 100 new
 * subdirectories), each into a fresh watch. Measures the time from the last write to the last
 * event stored, events lost (target 0), duplicate `created` (target 0), and RSS with the files
 * under watch.
 * @module
 */
import { jetstreamManager } from "@nats-io/jetstream";
import { startNatsServer } from "../helpers/nats_server.ts";
import {
  client,
  createdCounts,
  createFilesStream,
  readEvents,
  startWatcher,
  tempDir,
} from "../roles/watcher/helpers.ts";
import type { Bench } from "./run.ts";

const FILES = Number(Deno.env.get("BENCH_BURST_FILES") ?? 100_000);
const TIMEOUT = 600_000;

async function burst(url: string, layout: "flat" | "100 new subdirs") {
  const nc = await client(url);
  const jsm = await jetstreamManager(nc);
  await jsm.streams.delete("FILES").catch(() => {});
  await createFilesStream(nc);
  const root = await tempDir("bench");
  const watcher = await startWatcher(url, await tempDir("bench-state"), {
    watches: [{ name: "bench", path: root, settle: "250ms" }],
  });
  const t0 = performance.now();
  for (let i = 0; i < FILES; i++) {
    const dir = layout === "flat" ? root : `${root}/d${i % 100}`;
    if (layout !== "flat" && i < 100) Deno.mkdirSync(dir);
    Deno.writeTextFileSync(`${dir}/f${i}.txt`, `${i}`);
  }
  const lastWrite = performance.now();
  const until = Date.now() + TIMEOUT;
  while (Date.now() < until) {
    if ((await jsm.streams.info("FILES")).state.messages >= FILES) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const done = performance.now();
  const rss = Deno.memoryUsage().rss;
  const counts = createdCounts(await readEvents(nc));
  await watcher.stop();
  await nc.close();
  await Deno.remove(root, { recursive: true });
  return {
    layout,
    writeS: (lastWrite - t0) / 1000,
    settleS: (done - lastWrite) / 1000,
    lost: FILES - counts.size,
    dups: [...counts.values()].filter((n) => n > 1).length,
    rssMiB: rss / 1024 / 1024,
  };
}

const bench: Bench = {
  name: "burst",
  async run() {
    await using server = await startNatsServer();
    const rows = [];
    for (const layout of ["flat", "100 new subdirs"] as const) {
      const r = await burst(server.url, layout);
      rows.push([r.layout, r.writeS, r.settleS, r.lost, r.dups, r.rssMiB]);
    }
    return [{
      title: `watcher burst: ${FILES} files written as fast as possible, settle 250ms`,
      columns: [
        "layout",
        "write s",
        "last write → last event stored s",
        "lost",
        "duplicate created",
        "RSS MiB (whole process)",
      ],
      rows,
      notes: [
        "targets: lost 0, duplicate created 0. The writer runs in the same process as the " +
        "watcher (worst case: Deno drops events while the writer blocks the event loop).",
      ],
    }];
  },
};
export default bench;
