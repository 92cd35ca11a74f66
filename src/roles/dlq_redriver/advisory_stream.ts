/**
 * The advisory stream: advisories are core NATS messages, lost when nobody listens, so the server
 * keeps the sources' advisories in a small workqueue stream while jetport is down, read by the
 * durable consumer {@link CAPTURE_CONSUMER}. This module makes sure that stream takes exactly the
 * sources' advisory subjects.
 * @module
 */
import { AckPolicy, DeliverPolicy, RetentionPolicy, StorageType } from "@nats-io/jetstream";
import type { DlqHandles } from "./handles.ts";
import { advisorySubjects } from "./capture.ts";
import { isStreamNotFound, isTransient } from "../../nats/errors.ts";

/** Name of the durable consumer that reads the advisory stream. */
export const CAPTURE_CONSUMER = "jetport-dlq-capture";

const NANOS = 1_000_000;

/**
 * Makes the advisory stream `name` take exactly the sources' advisories. False when it cannot
 * (another stream takes those subjects, no permission); throws what an election causes
 * (timeouts, no leader), which is retried: falling back to core NATS for good would lose
 * advisories.
 */
export async function ensureAdvisoryStream(h: DlqHandles, name: string): Promise<boolean> {
  const { jsm, cfg, log } = h;
  const subjects = cfg.sources.flatMap((s) => advisorySubjects(s.stream, s.consumer));
  try {
    const info = await jsm.streams.info(name).catch((err) => {
      if (isStreamNotFound(err)) return undefined;
      throw err;
    });
    if (!info) {
      await jsm.streams.add({
        name,
        subjects,
        retention: RetentionPolicy.Workqueue,
        storage: StorageType.File,
        max_age: Math.round(cfg.max_age * NANOS),
        num_replicas: cfg.replicas,
        description: "jetport: consumer advisories waiting to be captured into the DLQ",
      });
      log.info("created advisory stream {name}", { name });
    } else if ([...info.config.subjects ?? []].sort().join() !== [...subjects].sort().join()) {
      await jsm.streams.update(name, { ...info.config, subjects });
      log.info("advisory stream {name} now takes the advisories of {n} sources", {
        name,
        n: cfg.sources.length,
      });
    }
    await jsm.consumers.add(name, {
      durable_name: CAPTURE_CONSUMER,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: 30_000 * NANOS,
      max_deliver: -1,
    });
    return true;
  } catch (err) {
    if (isTransient(err)) throw err;
    log.warn(
      "cannot keep advisories in stream {name}: {error}; listening on core NATS only, so " +
        "advisories sent while jetport is down are lost (set roles.dlq_redriver." +
        "advisory_stream to another name, or null to silence this)",
      { name, error: (err as Error).message },
    );
    return false;
  }
}
