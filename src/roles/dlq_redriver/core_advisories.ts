/**
 * Core-NATS subscriptions to the sources' advisories, captured one at a time and retried a few
 * times on failure. As the fallback (no advisory stream) they capture at once, and advisories
 * sent while no jetport runs are lost: the server keeps no list of the messages a consumer gave
 * up on. Beside the advisory stream (`backup`) they catch what the stream could not store: an
 * advisory sent while the stream elects a leader is not retried by the server, it is simply
 * gone. Each is captured after {@link BACKUP_DELAY} unless the stream's path captured it
 * meanwhile.
 * @module
 */
import type { DlqHandles } from "./handles.ts";
import type { AdvisoryHandler } from "./advisory_handler.ts";
import { advisorySubjects } from "./capture.ts";
import { CAPTURE_CONSUMER } from "./advisory_stream.ts";
import { backoffDelay } from "../../nats/connection.ts";
import { delay } from "../../platform/delay.ts";

/**
 * How long the backup waits for the advisory stream's path to capture an advisory before it
 * captures it itself (the stream had no leader to store it).
 */
const BACKUP_DELAY = 10_000;

/**
 * Subscribes to every source's advisories until `h.signal` aborts; resolves once the
 * subscriptions are gone and the capture in hand is done.
 */
export async function subscribeAdvisories(
  h: DlqHandles,
  handler: AdvisoryHandler,
  backup: boolean,
): Promise<void> {
  const { log, signal } = h;
  let chain = Promise.resolve();
  const timers = new Set<ReturnType<typeof setTimeout>>();
  const enqueue = (subject: string, data: Uint8Array, text: () => string) => {
    chain = chain.then(async () => {
      for (let attempt = 0; attempt < 5 && !signal.aborted; attempt++) {
        if (await handler.handle(subject, data, backup)) return;
        await delay(backoffDelay(attempt, 500, 10_000, 100), signal);
      }
      log.error("gave up capturing advisory {subject}: {data}", { subject, data: text() });
    });
  };
  const subs = h.cfg.sources.flatMap((s) => advisorySubjects(s.stream, s.consumer)).map((subject) =>
    h.nc.subscribe(subject, {
      queue: CAPTURE_CONSUMER,
      callback: (_err, msg) => {
        const later = () => enqueue(msg.subject, msg.data, () => msg.string());
        if (!backup) return later();
        const timer = setTimeout(() => {
          timers.delete(timer);
          later();
        }, BACKUP_DELAY);
        timers.add(timer);
      },
    })
  );
  await new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener("abort", () => resolve(), { once: true });
  });
  timers.forEach((t) => clearTimeout(t));
  for (const sub of subs) sub.unsubscribe();
  await chain;
}
