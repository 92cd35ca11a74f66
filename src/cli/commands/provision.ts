/**
 * `jetport provision plan|apply|verify`: compare the declared streams, consumers and KV buckets
 * with the server, and (apply) make the server match.
 * @module
 */
import type { Command } from "../command.ts";
import { EXIT } from "../command.ts";
import { UsageError } from "../args.ts";
import { CONFIG_HELP, configPath, loadConfigFlag } from "../config_flag.ts";
import { connectOnce } from "../../nats/connection.ts";
import { type Mode, provision, streamOwners } from "../../roles/stream_provisioner/provision.ts";
import { ProvisionError } from "../../roles/stream_provisioner/errors.ts";
import { redact } from "../../platform/redact.ts";

const MODES = ["plan", "apply", "verify"] as const;

/** The `provision` command. */
export const provisionCommand: Command = {
  name: "provision",
  summary: "plan, apply or verify streams, consumers and KV buckets",
  help: `Usage: jetport provision plan|apply|verify --config FILE [--allow-destructive]

Compares roles.stream_provisioner (streams, consumers, kv) with the server.

  plan     print every difference: create / update (field: old → new) / unchanged /
           DESTRUCTIVE (and why), and objects on the server nobody declared (never touched)
  apply    create what is missing, update in place what the server can change, read every
           object back; refuse changes that lose data (storage type, retention, ack or deliver
           policy, push ↔ pull, subject removal that orphans stored messages) unless
           --allow-destructive (or allow_destructive: true), which deletes and recreates them
  verify   pass/fail for CI: exit 0 when the server matches, 3 when it drifted or a declared
           stream or bucket is degraded (a replica offline, not current, or not heard from)

${CONFIG_HELP}
  --allow-destructive   apply may delete and recreate objects (stored messages are lost)

Exit codes: 0 in sync (apply: done), 1 server error, 2 bad usage / invalid config / a feature
the server lacks or replicas the cluster cannot place, 3 drift found (apply: a refused or
dropped change left drift; verify: also a degraded stream).`,
  flags: {
    string: ["config"],
    boolean: ["allow-destructive"],
    positional: { name: "mode", choices: MODES },
  },
  async run(args) {
    const mode = args._[0] as Mode | undefined;
    if (!mode || !MODES.includes(mode) || args._.length > 1) {
      throw new UsageError(`expected one of ${MODES.join(", ")}, got "${args._.join(" ")}"`);
    }
    const config = await loadConfigFlag(args);
    const cfg = config.roles.stream_provisioner;
    if (!cfg) {
      console.error(
        `jetport provision: ${configPath(args)} has no roles.stream_provisioner section; ` +
          "declare streams, consumers or kv there",
      );
      return EXIT.usage;
    }
    const nc = await connectOnce(config.nats);
    try {
      const result = await provision(nc, cfg, mode, {
        allowDestructive: args.flags["allow-destructive"] === true || cfg.allow_destructive,
        owners: streamOwners(config),
        progress: (_level, line) => console.log(redact(line)),
      });
      if (result.applied?.failed.length) return EXIT.failure;
      if (result.drift) return EXIT.drift;
      return mode === "verify" && result.degraded.length > 0 ? EXIT.drift : EXIT.ok;
    } catch (err) {
      if (!(err instanceof ProvisionError)) throw err;
      console.error(redact(`jetport provision ${mode}: ${err.message}`));
      return EXIT.usage;
    } finally {
      await nc.close();
    }
  },
};
