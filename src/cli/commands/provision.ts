/**
 * `jetport provision plan|apply|verify`: compare the declared streams, consumers and KV buckets
 * with the server, and (apply) make the server match.
 * @module
 */
import type { Command } from "../command.ts";
import { EXIT } from "../command.ts";
import { UsageError } from "../args.ts";
import { CONFIG_HELP, configPath, loadConfigFlag } from "../config_flag.ts";
import { connectOnce } from "../../nats/connect_once.ts";
import {
  type Mode,
  provision,
  type ProvisionResult,
  streamOwners,
} from "../../roles/stream_provisioner/provision.ts";
import { ProvisionError } from "../../roles/stream_provisioner/errors.ts";
import type { ApplyResult } from "../../roles/stream_provisioner/apply.ts";
import { redact } from "../../platform/redact.ts";
import { formatPath } from "../../config/errors.ts";
import { dlqAdvice } from "../../roles/dlq_redriver/checks.ts";
import { JSON_HELP, type JsonError, printJson, wantsJson } from "../json.ts";
import { stringify } from "yaml";
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import type { Config } from "../../roles/schemas.ts";
import { exportDeclarations } from "../../roles/stream_provisioner/export.ts";
import type { ParsedArgs } from "../args.ts";

/** One difference of an object, in `--json`. */
export interface JsonChange {
  field: string;
  /** The server's value, as plan prints it (YAML units). */
  from: string;
  /** The declared value, likewise. */
  to: string;
  /** Why the change needs delete + create, or null. */
  destructive: string | null;
  /** Why the change, once made, cannot be undone, or null. */
  irreversible: string | null;
}

/** What `provision plan|apply|verify --json` prints (docs/config/stream_provisioner.md). */
export interface ProvisionReport {
  mode: Mode;
  server_version: string;
  cluster: { name: string | null; size: number | null; source: string };
  /** True when every declared object matches the server (after apply: now matches). */
  in_sync: boolean;
  items: {
    type: "stream" | "consumer" | "kv" | "object_store";
    id: string;
    action: "create" | "update" | "unchanged" | "destructive";
    changes: JsonChange[];
    /** For destructive: what would be lost, else null. */
    loss: string | null;
  }[];
  unmanaged: { type: string; id: string; note: string | null }[];
  /** Declared streams/buckets whose replicas are degraded, one line each. */
  degraded: string[];
  /** What apply did; null for plan and verify. */
  applied: ApplyResult | null;
}

/** The `--json` report of a run. */
function report(mode: Mode, r: ProvisionResult): ProvisionReport {
  const { plan } = r;
  return {
    mode,
    server_version: plan.serverVersion,
    cluster: {
      name: plan.cluster.name ?? null,
      size: plan.cluster.size ?? null,
      source: plan.cluster.source,
    },
    in_sync: !r.drift,
    items: plan.items.map((i) => ({
      type: i.type,
      id: i.id,
      action: i.action,
      changes: i.changes.map((c) => ({
        field: c.field,
        from: c.from,
        to: c.to,
        destructive: c.fixed ?? null,
        irreversible: c.irreversible ?? null,
      })),
      loss: i.loss ?? null,
    })),
    unmanaged: plan.extras.map((e) => ({ type: e.type, id: e.id, note: e.note ?? null })),
    degraded: r.degraded,
    applied: r.applied ?? null,
  };
}

/** A refusal before any change, in the `--json` error shape (each problem names its object). */
function refusal(file: string, err: ProvisionError): JsonError {
  return {
    error: {
      code: "CONFIG_INVALID",
      message: err.message,
      problems: err.problems.map((message) => ({
        file,
        line: null,
        column: null,
        path: "roles.stream_provisioner",
        message,
      })),
    },
  };
}

const MODES = ["plan", "apply", "verify", "export"] as const;

/** The `provision` command. */
export const provisionCommand: Command = {
  name: "provision",
  summary: "plan, apply or verify streams, consumers and KV buckets",
  help: `Usage: jetport provision plan|apply|verify --config FILE [--allow-destructive] [--json]
       jetport provision export --config FILE [--stream S]... [--kv B]... [--object-store B]...
                                [--all]

Compares roles.stream_provisioner (streams, consumers, kv, object_stores) with the server.

  plan     print every difference: create / update (field: old → new) / unchanged /
           DESTRUCTIVE (and why), and objects on the server nobody declared (never touched)
  apply    create what is missing, update in place what the server can change, read every
           object back; refuse changes that lose data (storage type, retention, ack or deliver
           policy, push ↔ pull, subject removal that orphans stored messages) unless
           --allow-destructive (or allow_destructive: true), which deletes and recreates them
  verify   pass/fail for CI: exit 0 when the server matches, 3 when it drifted or a declared
           stream or bucket is degraded (a replica offline, not current, or not heard from)
  export   print YAML declarations of what exists on the server (defaults left out), so that
           plan on them reports no change: the declared streams and buckets, or --stream S /
           --kv B / --object-store B (repeatable), or --all (every stream, bucket and
           durable consumer); the
           config file gives the connection

${CONFIG_HELP}
  --allow-destructive   apply may delete and recreate objects (stored messages are lost)
${JSON_HELP}; progress lines go to stderr

Exit codes: 0 in sync (apply: done), 1 server error, 2 bad usage / invalid config / a feature
the server lacks or replicas the cluster cannot place, 3 drift found (apply: a refused or
dropped change left drift; verify: also a degraded stream).`,
  flags: {
    string: ["config"],
    multiple: ["stream", "kv", "object-store"],
    boolean: ["allow-destructive", "json", "all"],
    positional: { name: "mode", choices: MODES },
  },
  async run(args) {
    const given = MODES.find((m) => m === args._[0]);
    if (!given || args._.length > 1) {
      throw new UsageError(`expected one of ${MODES.join(", ")}, got "${args._.join(" ")}"`);
    }
    // Flags of one mode given to another would be ignored: say so instead.
    const exportOnly = ["all", "stream", "kv", "object-store"];
    const wrong = given === "export"
      ? ["allow-destructive", "json"].filter((f) => args.flags[f] !== undefined)
      : exportOnly.filter((f) => args.flags[f] !== undefined);
    if (wrong.length > 0) {
      throw new UsageError(`--${wrong[0]} does not apply to provision ${given}`);
    }
    const config = await loadConfigFlag(args);
    if (given === "export") return await exportCommand(args, config);
    const mode: Mode = given;
    const cfg = config.roles.stream_provisioner;
    if (!cfg) {
      console.error(
        `jetport provision: ${configPath(args)} has no roles.stream_provisioner section; ` +
          "declare streams, consumers or kv there",
      );
      return EXIT.usage;
    }
    const json = wantsJson(args);
    const nc = await connectOnce(config.nats);
    try {
      const result = await provision(nc, cfg, mode, {
        allowDestructive: args.flags["allow-destructive"] === true || cfg.allow_destructive,
        owners: streamOwners(config),
        // With --json stdout carries the report only; the lines are for people.
        progress: (_level, line) => (json ? console.error : console.log)(redact(line)),
      });
      if (mode === "plan") {
        for (const a of dlqAdvice(config)) {
          (json ? console.error : console.log)(`note: ${formatPath(a.path)}: ${a.message}`);
        }
      }
      if (json) printJson(report(mode, result));
      if (result.applied?.failed.length) return EXIT.failure;
      if (result.drift) return EXIT.drift;
      return mode === "verify" && result.degraded.length > 0 ? EXIT.drift : EXIT.ok;
    } catch (err) {
      if (!(err instanceof ProvisionError)) throw err;
      if (json) printJson(refusal(configPath(args), err));
      console.error(redact(`jetport provision ${mode}: ${err.message}`));
      return EXIT.usage;
    } finally {
      await nc.close();
    }
  },
};

/** A repeatable flag's values. */
function list(v: string | string[] | boolean | undefined): string[] {
  return Array.isArray(v) ? v : typeof v === "string" ? [v] : [];
}

/** `provision export`: the YAML of what exists, on stdout. */
async function exportCommand(args: ParsedArgs, config: Config): Promise<number> {
  const all = args.flags.all === true;
  let streams = list(args.flags.stream);
  let buckets = list(args.flags.kv);
  let objectStores = list(args.flags["object-store"]);
  if (!all && streams.length + buckets.length + objectStores.length === 0) {
    const declared = config.roles.stream_provisioner;
    if (!declared) {
      throw new UsageError(
        `${configPath(args)} declares no streams: name them with --stream S / --kv B, or --all`,
      );
    }
    streams = declared.streams.map((s) => s.name);
    buckets = declared.kv.map((k) => k.bucket);
    objectStores = declared.object_stores.map((o) => o.bucket);
  }
  const nc: NatsConnection = await connectOnce(config.nats);
  try {
    const found = await exportDeclarations(await jetstreamManager(nc), {
      all,
      streams,
      buckets,
      objectStores,
    });
    for (const line of found.skipped) console.error(`jetport provision export: skipped ${line}`);
    const section = Object.fromEntries(
      Object.entries({
        streams: found.streams,
        consumers: found.consumers,
        kv: found.kv,
        object_stores: found.object_stores,
      })
        .filter(([, v]) => v.length > 0),
    );
    const doc = { nats: { servers: config.nats.servers }, roles: { stream_provisioner: section } };
    console.log(
      `# jetport provision export from nats-server ${nc.info?.version ?? "?"}; add the ` +
        "credentials of your own config's nats section\n" + stringify(doc, { lineWidth: 0 }),
    );
    return EXIT.ok;
  } finally {
    await nc.close();
  }
}
