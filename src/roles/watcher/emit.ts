/**
 * How one watch's changes become outbox records: the event (with its `Nats-Msg-Id`, its subject,
 * its checksum when asked for) and the snapshot change it stands for. What every event of the
 * watch shares (root text, subjects) is made once: a burst emits thousands a second.
 * @module
 */
import type { WatchConfig } from "./config.ts";
import { buildEvent, changeId, eventSource, eventSubject, fileSha256 } from "./event.ts";
import type { Outbox } from "./outbox.ts";
import type { Change, ChangeType } from "./tree.ts";
import { paths } from "../../platform/paths.ts";

/**
 * Puts the event of a change into the outbox; returns a promise only when it must wait (for the
 * file's checksum, or for room in the outbox), so a burst's loop awaits nothing per event.
 * `initial`: found by a fresh start.
 */
export type Emitter = (change: Change, initial: boolean) => void | Promise<void>;

/** The emitter of `watch` on `host` into `outbox`; `root()` is the root as watched. */
export function createEmitter(
  watch: WatchConfig,
  host: string,
  outbox: Outbox,
  root: () => string,
): Emitter {
  const source = eventSource(watch, host);
  const subjects = new Map<ChangeType, string>();
  const subject = (type: ChangeType) => {
    let s = subjects.get(type);
    if (s === undefined) subjects.set(type, s = eventSubject(watch.subject, watch.name, type));
    return s;
  };

  function put(change: Change, initial: boolean, sha256?: string): void | Promise<void> {
    const msgId = changeId(watch.name, change);
    const record = {
      subject: subject(change.type),
      msgId,
      data: JSON.stringify(buildEvent(source, change, msgId, sha256)),
      headers: initial ? { "Jetport-Initial-Scan": "true" } : undefined,
      change: {
        watch: watch.name,
        type: change.type,
        path: change.path,
        oldPath: change.oldPath,
        state: change.state,
      },
    };
    if (!outbox.hasRoom()) return outbox.room().then(() => outbox.append(record));
    outbox.append(record);
  }

  return (change, initial) => {
    if (watch.checksum === "sha256" && (change.type === "created" || change.type === "modified")) {
      return fileSha256(paths.fromKey(root(), change.path)).then((sha256) =>
        put(change, initial, sha256)
      );
    }
    return put(change, initial);
  };
}
