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

/** Puts the event of a change into the outbox. `initial`: found by a fresh start. */
export type Emitter = (change: Change, initial: boolean) => Promise<void>;

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

  return async (change, initial) => {
    const msgId = changeId(watch.name, change);
    const sha256 = watch.checksum === "sha256" &&
        (change.type === "created" || change.type === "modified")
      ? await fileSha256(paths.fromKey(root(), change.path))
      : undefined;
    const event = buildEvent(source, change, msgId, sha256);
    await outbox.room();
    outbox.append({
      subject: subject(change.type),
      msgId,
      data: JSON.stringify(event),
      headers: initial ? { "Jetport-Initial-Scan": "true" } : undefined,
      change: {
        watch: watch.name,
        type: change.type,
        path: change.path,
        oldPath: change.oldPath,
        state: change.state,
      },
    });
  };
}
