/**
 * What the role says once at start about the limits of capture: behaviours of this server
 * version, and each source consumer's state (what a restart can and cannot account for).
 * @module
 */
import type { DlqHandles } from "./handles.ts";
import { supports, versionAtLeast } from "../../nats/version.ts";

/** Says which behaviours of server `version` limit capture. */
export function logServerLimits(h: DlqHandles, version: string): void {
  if (!supports(version, "termReason")) {
    h.log.warn(
      "nats-server {version}: terminated-message advisories carry no reason (needs " +
        "nats-server 2.10.4 or newer), so entries captured from a consumer's term say only " +
        '"terminated by consumer"',
      { version },
    );
  }
  if (!versionAtLeast(version, "2.10.0")) {
    h.log.warn(
      "nats-server {version}: a pull consumer gets its max-deliveries advisory only while a " +
        "pull request is waiting (newer servers: 2.10 or later send it anyway); a consumer " +
        "that stops pulling leaves its last dead messages uncaptured until it pulls again",
      { version },
    );
  }
}

/** Logs each source's consumer state. */
export async function reportSources(h: DlqHandles): Promise<void> {
  for (const s of h.cfg.sources) {
    const source = `${s.stream}/${s.consumer}`;
    try {
      const info = await h.jsm.consumers.info(s.stream, s.consumer);
      const maxDeliver = info.config.max_deliver ?? -1;
      h.log.info(
        "source {source}: max_deliver {maxDeliver}, {redelivered} messages being redelivered, " +
          "{ackPending} awaiting ack",
        {
          source,
          maxDeliver,
          redelivered: info.num_redelivered,
          ackPending: info.num_ack_pending,
        },
      );
      if (maxDeliver < 1) {
        h.log.warn(
          "source {source} has no max_deliver: the server redelivers its failing messages " +
            "forever and sends no max-deliveries advisory; only terminated messages reach the DLQ",
          { source },
        );
      }
    } catch (err) {
      h.log.warn("source {source}: {error}; its advisories are captured once it exists", {
        source,
        error: (err as Error).message,
      });
    }
  }
}
