/**
 * Shared pieces of the monitor tests: file events as the watcher publishes them (docs/design.md
 * "File event"), a FILES stream, and reading the monitor's log.
 * @module
 */
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/nats-core";
import {
  AckPolicy,
  jetstream,
  type JetStreamManager,
  jetstreamManager,
  type JsMsg,
  RetentionPolicy,
  StorageType,
} from "@nats-io/jetstream";

/** A file event in the docs/design.md format. */
export function fileEvent(
  operation: "added" | "modified" | "deleted" | "renamed",
  path: string,
  size = 13,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  const type = {
    added: "file.created",
    modified: "file.modified",
    deleted: "file.deleted",
    renamed: "file.renamed",
  }[operation];
  return {
    event_id: crypto.randomUUID(),
    type,
    operation,
    watch: "storage",
    path,
    root: "test/storage",
    size,
    file_size: size / 1024,
    mtime: new Date().toISOString(),
    host: "test",
    timestamp: new Date().toISOString(),
    ...extra,
  };
}

/** A connection and JetStream manager for a test, closed with `await using`. */
export async function client(url: string): Promise<
  { nc: NatsConnection; jsm: JetStreamManager } & AsyncDisposable
> {
  const nc = await connect({ servers: url });
  const jsm = await jetstreamManager(nc);
  return { nc, jsm, [Symbol.asyncDispose]: () => nc.close() };
}

/** Creates the FILES stream on `file.events` (limits retention, file storage). */
export async function createFilesStream(jsm: JetStreamManager, name = "FILES"): Promise<void> {
  await jsm.streams.add({
    name,
    subjects: ["file.events"],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
  });
}

/** Publishes JSON events (or raw strings) to `file.events`, awaiting each stream ack. */
export async function publish(nc: NatsConnection, events: unknown[]): Promise<void> {
  const js = jetstream(nc);
  for (const ev of events) {
    await js.publish("file.events", typeof ev === "string" ? ev : JSON.stringify(ev));
  }
}

/**
 * A FILES stream with `count` file events (`<prefix>0.txt`, ...) and a consumer `durable` (ack
 * explicit) that has delivered them all: the messages, unacked.
 */
export async function deliveredEvents(
  c: { nc: NatsConnection; jsm: JetStreamManager },
  durable: string,
  count: number,
  prefix: string,
): Promise<JsMsg[]> {
  await createFilesStream(c.jsm);
  await c.jsm.consumers.add("FILES", { durable_name: durable, ack_policy: AckPolicy.Explicit });
  await publish(
    c.nc,
    Array.from({ length: count }, (_, i) => fileEvent("added", `${prefix}${i}.txt`)),
  );
  const consumer = await jetstream(c.nc).consumers.get("FILES", durable);
  const msgs: JsMsg[] = [];
  for await (const m of await consumer.fetch({ max_messages: count, expires: 5000 })) msgs.push(m);
  if (msgs.length !== count) throw new Error(`${msgs.length} of ${count} events delivered`);
  return msgs;
}

/** The lines of `path` (none when it does not exist yet). */
export async function readLines(path: string): Promise<string[]> {
  const text = await Deno.readTextFile(path).catch(() => "");
  return text.split("\n").filter((l) => l !== "");
}

/**
 * The whole lines of the file at `path`: a last line without its line break is left out. One is
 * there while a group is being written, and after a kill -9 that cut a write short (the kernel
 * stops a write between pages for a fatal signal); that group was never acked, and the monitor's
 * next start cuts it off (`src/roles/monitor/log_tail.ts`).
 */
export async function readWholeLines(path: string): Promise<string[]> {
  const text = await Deno.readTextFile(path).catch(() => "");
  return text.slice(0, text.lastIndexOf("\n") + 1).split("\n").filter((l) => l !== "");
}

/** `[YYYY-MM-DD HH:MM:SS] File ` — the exact head of every text line. */
export const LINE_HEAD = /^\[\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\] File /;
