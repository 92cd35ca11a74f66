/**
 * `jetport status`: streams, consumers, lag and DLQ depth, for people or (`--json`) machines.
 * @module
 */
import type { Command } from "../command.ts";
import { EXIT } from "../command.ts";
import { CONFIG_HELP, loadConfigFlag } from "../config_flag.ts";
import { connectOnce } from "../../nats/connect_once.ts";
import { jetstreamManager } from "@nats-io/jetstream";
import { collectStatus, formatStatus } from "../../roles/stream_provisioner/status.ts";
import { STALE_MS } from "../../roles/stream_provisioner/health.ts";
import { redact } from "../../platform/redact.ts";
import { JSON_HELP, printJson, wantsJson } from "../json.ts";

/** The `status` command. */
export const statusCommand: Command = {
  name: "status",
  summary: "show streams, consumers, lag and DLQ depth",
  help: `Usage: jetport status --config FILE [--json] [--stream NAME]...

Shows every declared stream (messages, bytes, first/last sequence, consumers), each consumer of
it (pending = lag, age of the oldest pending message, ack pending, redelivered, last delivery)
and, when roles.dlq_redriver is configured, the dead-letter depth per source. Without
declarations it shows every stream on the server.

On a cluster each stream shows its leader and every replica (current, seconds since the leader
last heard from it, lag), and DEGRADED when a replica is missing, offline, not current or not
heard from for ${STALE_MS / 1000} s, or when the stream does not answer (no leader). "degraded" and
"degraded_reasons" carry the same in --json. status only shows it; \`jetport provision verify\`
fails (exit 3) on it.

${CONFIG_HELP}
  --stream NAME     only this stream (declared or not); repeat for several
${JSON_HELP}

Exit codes: 0 shown, 1 NATS unreachable, 2 bad usage or invalid config.`,
  flags: { string: ["config"], multiple: ["stream"], boolean: ["json"] },
  async run(args) {
    const config = await loadConfigFlag(args);
    const nc = await connectOnce(config.nats);
    try {
      const report = await collectStatus(await jetstreamManager(nc), config, {
        streams: args.flags.stream as string[] | undefined,
        serverVersion: nc.info?.version ?? "0.0.0",
      });
      if (wantsJson(args)) printJson(report);
      else console.log(redact(formatStatus(report)));
      return EXIT.ok;
    } finally {
      await nc.close();
    }
  },
};
