/**
 * Shared set-up for the watcher tests: the FILES stream (created here, as the provisioner would),
 * the role run in-process, and a reader of every event stored.
 * @module
 */
import { configure, reset } from "@logtape/logtape";
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/nats-core";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { configSchema } from "../../../src/roles/schemas.ts";
import { textLine } from "../../../src/platform/logging.ts";
import type { Registry } from "../../../src/http/metrics.ts";
import { type InProcessRole, runRoleInProcess } from "../../helpers/role.ts";
import { createWatcherRole, type WatcherDeps } from "../../../src/roles/watcher/role.ts";
import { withSection } from "../../../src/roles/registry.ts";
import type { WatchFs } from "../../../src/roles/watcher/watch.ts";
import { waitFor } from "../../helpers/assert.ts";

/** A file event as stored. */
export interface StoredEvent {
  type: string;
  operation: string;
  watch: string;
  path: string;
  old_path?: string;
  size: number;
  file_size: number;
  mtime: string;
  root: string;
  event_id: string;
  host: string;
  timestamp: string;
  sha256?: string;
  /** Stream sequence. */
  seq: number;
  /** The message's subject. */
  subject: string;
  /** `Jetport-Initial-Scan` header. */
  initial: boolean;
}

/** Creates the FILES stream on `file.>` (2 min duplicate window, the server default). */
export async function createFilesStream(nc: NatsConnection, subjects = ["file.>"]) {
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: "FILES", subjects });
}

/** Every event in FILES, in stream order. */
export async function readEvents(nc: NatsConnection): Promise<StoredEvent[]> {
  const jsm = await jetstreamManager(nc);
  const total = (await jsm.streams.info("FILES")).state.last_seq;
  const out: StoredEvent[] = [];
  if (total === 0) return out;
  const consumer = await jetstream(nc).consumers.get("FILES");
  const messages = await consumer.consume();
  for await (const m of messages) {
    out.push({
      ...m.json<StoredEvent>(),
      seq: m.seq,
      subject: m.subject,
      initial: m.headers?.get("Jetport-Initial-Scan") === "true",
    });
    if (m.seq >= total) break;
  }
  await messages.close();
  return out;
}

/**
 * Writes the marker file `name` into `root` (after the changes a test made) and waits for its
 * `created` event: events of earlier changes are stored before it, so once it is there, what a
 * test asserts about them is final. Returns every event stored before the marker.
 */
export async function eventsBeforeMarker(
  nc: NatsConnection,
  root: string,
  name = "zz-marker.txt",
): Promise<StoredEvent[]> {
  await Deno.writeTextFile(`${root}/${name}`, "marker");
  const events = await waitFor(
    async () => {
      const e = await readEvents(nc);
      return e.some((x) => x.type === "file.created" && x.path === name) ? e : undefined;
    },
    30_000,
    `the marker ${name}`,
  );
  return events.slice(0, events.findIndex((x) => x.path === name));
}

/** `created` events per path (more than one means a duplicate). */
export function createdCounts(events: StoredEvent[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const e of events) {
    if (e.type === "file.created") counts.set(e.path, (counts.get(e.path) ?? 0) + 1);
  }
  return counts;
}

/** A watcher role running in this process. */
export type RunningWatcher = InProcessRole;

/** Starts the watcher in-process with `section` as `roles.watcher` (and stand-ins from `deps`). */
export async function startWatcher(
  url: string,
  stateDir: string,
  section: unknown,
  deps: WatcherDeps = {},
): Promise<RunningWatcher> {
  const config = configSchema.parse({
    nats: { servers: url, reconnect: { wait: "100ms", max_wait: "500ms", jitter: "50ms" } },
    state_dir: stateDir,
    roles: { watcher: section },
  });
  return await runRoleInProcess(
    config,
    "watcher",
    withSection("watcher", (ctx, section) => createWatcherRole(ctx, section, deps)),
  );
}

/** The log lines jetport writes while it is in scope (text format, info and up). */
export interface CapturedLogs extends AsyncDisposable {
  /** Lines so far. */
  lines: string[];
}

/** Sends jetport's log to memory (instead of nowhere) until disposed. */
export async function captureLogs(): Promise<CapturedLogs> {
  const lines: string[] = [];
  await configure({
    reset: true,
    sinks: { memory: (record) => lines.push(textLine(record)) },
    loggers: [
      { category: ["jetport"], lowestLevel: "info", sinks: ["memory"] },
      { category: ["logtape", "meta"], lowestLevel: "error", sinks: [] },
    ],
  });
  return { lines, [Symbol.asyncDispose]: () => reset() };
}

/**
 * A `Deno.watchFs` stand-in: opens the real watcher and passes its events on unless `drop()` is
 * true (the kernel or Deno losing events without a word).
 */
export function droppingWatchFs(drop: (event: Deno.FsEvent) => boolean): WatchFs {
  return (root, options) => {
    const real = Deno.watchFs(root, options);
    async function* events() {
      for await (const event of real) if (!drop(event)) yield event;
    }
    return {
      close: () => real.close(),
      [Symbol.dispose]: () => real.close(),
      [Symbol.asyncIterator]: events,
    };
  };
}

/** A connected plain client. */
export function client(url: string): Promise<NatsConnection> {
  return connect({ servers: url });
}

/** A fresh temp directory. */
export function tempDir(prefix: string): Promise<string> {
  return Deno.makeTempDir({ prefix: `jetport-watcher-${prefix}-` });
}

/** The value of metric `name` with exactly these label values in `render()` output (0 if none). */
export function metricValue(
  metrics: Registry,
  name: string,
  labels: Record<string, string>,
): number {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`).sort().join(",");
  for (const line of metrics.render().split("\n")) {
    const m = /^(\w+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (m && m[1] === `jetport_${name}` && (m[2] ?? "").split(",").sort().join(",") === want) {
      return Number(m[3]);
    }
  }
  return 0;
}
