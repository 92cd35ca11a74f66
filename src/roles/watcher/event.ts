/**
 * The file event (docs/design.md "File event"), its subject and its `Nats-Msg-Id`.
 * @module
 */
import { createHash } from "node:crypto";
import type { Change, ChangeType } from "./tree.ts";
import { paths } from "../../platform/paths.ts";

/** The `operation` field of the original adapter's events. */
const OPERATIONS: Record<ChangeType, string> = {
  created: "added",
  modified: "modified",
  deleted: "deleted",
  renamed: "renamed",
};

/** A file event as published. */
export interface FileEvent {
  event_id: string;
  type: `file.${ChangeType}`;
  operation: string;
  watch: string;
  path: string;
  root: string;
  old_path?: string;
  size: number;
  file_size: number;
  mtime: string;
  sha256?: string;
  host: string;
  timestamp: string;
}

/**
 * The `Nats-Msg-Id` of a change: a hash of (watch, path, type, mtime, size) and, for renames, the
 * old path, so the same change found twice (a rescan, a restart before the snapshot was saved)
 * is stored once inside the stream's duplicate window.
 */
export function changeId(watch: string, change: Change): string {
  const key = JSON.stringify([
    watch,
    change.path,
    change.type,
    change.state.mtime,
    change.state.size,
    change.oldPath ?? null,
  ]);
  return createHash("sha256").update(key).digest("hex").slice(0, 32);
}

/** Formats a 32-hex-digit id as a UUID-shaped `event_id`. */
function uuidShape(hex: string): string {
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${
    hex.slice(20, 32)
  }`;
}

/** Expands `{watch}` and `{op}` in a subject template. */
export function eventSubject(template: string, watch: string, type: ChangeType): string {
  return template.replaceAll("{watch}", watch).replaceAll("{op}", type);
}

/** What every event of one watch shares. */
export interface EventSource {
  /** The watch's name. */
  name: string;
  /** Its root as written in the config (see `paths.display`). */
  root: string;
  /** This host's name. */
  host: string;
}

/** The {@link EventSource} of the watch `name` at `path` on `host`. */
export function eventSource(watch: { name: string; path: string }, host: string): EventSource {
  return { name: watch.name, root: paths.display(watch.path), host };
}

// A burst builds thousands of events per millisecond: the timestamp text is made once per ms.
let lastNow = 0;
let lastIso = "";

/** The current time as ISO 8601 text. */
function nowIso(): string {
  const now = Date.now();
  if (now !== lastNow) {
    lastNow = now;
    lastIso = new Date(now).toISOString();
  }
  return lastIso;
}

/** Builds the event of `change`; `event_id` is derived from the msg id, so re-sends match. */
export function buildEvent(
  source: EventSource,
  change: Change,
  msgId: string,
  sha256?: string,
): FileEvent {
  const event: FileEvent = {
    event_id: uuidShape(msgId),
    type: `file.${change.type}`,
    operation: OPERATIONS[change.type],
    watch: source.name,
    path: change.path,
    root: source.root,
    size: change.state.size,
    file_size: Math.round((change.state.size / 1024) * 100) / 100,
    mtime: new Date(change.state.mtime).toISOString(),
    host: source.host,
    timestamp: nowIso(),
  };
  if (change.oldPath !== undefined) event.old_path = change.oldPath;
  if (sha256) event.sha256 = sha256;
  return event;
}

/** The sha256 of the file at `path` (hex), or undefined when it cannot be read. */
export async function fileSha256(path: string): Promise<string | undefined> {
  try {
    const file = await Deno.open(path); // its readable closes it
    const hash = createHash("sha256");
    for await (const chunk of file.readable) hash.update(chunk);
    return hash.digest("hex");
  } catch {
    return undefined;
  }
}
