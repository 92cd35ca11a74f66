/**
 * One provisioning run in a mode (`plan`, `apply`, `verify`), shared by the CLI and the role:
 * read the server's version and objects, build the plan, and print / apply / judge it.
 * @module
 */
import type { NatsConnection } from "@nats-io/nats-core";
import { jetstreamManager } from "@nats-io/jetstream";
import type { Config } from "../../config/schema.ts";
import type { ProvisionerConfig } from "./config.ts";
import { buildPlan, formatPlan, hasDrift, type Plan } from "./plan.ts";
import {
  applyLeftDrift,
  applyPlan,
  type ApplyResult,
  applySummary,
  type Progress,
} from "./apply.ts";

/** A provisioning mode. */
export type Mode = "plan" | "apply" | "verify";

/** Options of {@link provision}. */
export interface ProvisionOptions {
  /** Delete and recreate what cannot change in place. */
  allowDestructive: boolean;
  /** Where lines go (stdout for the CLI, the log for the role). */
  progress: Progress;
}

/** What a run found or did. */
export interface ProvisionResult {
  /** True when the server differs from the declarations (after apply: still differs). */
  drift: boolean;
  /** The plan the run was based on. */
  plan: Plan;
  /** What apply did, in `apply` mode. */
  applied?: ApplyResult;
}

/** Streams other roles own, named among unmanaged extras so nobody wonders where they came from. */
export function streamOwners(config: Config): Record<string, string> {
  const owners: Record<string, string> = {};
  const dlq = config.roles.dlq_redriver;
  if (dlq && dlq.enabled) owners[dlq.dlq_stream] = "the dlq_redriver's dead-letter stream";
  const uploads = config.roles.upload_processor;
  if (uploads && uploads.enabled) {
    owners[`KV_${uploads.dedupe_bucket}`] = "the upload_processor's dedupe bucket";
  }
  return owners;
}

/** Runs `mode` against the server behind `nc`. */
export async function provision(
  nc: NatsConnection,
  cfg: ProvisionerConfig,
  mode: Mode,
  options: ProvisionOptions & { owners?: Record<string, string> },
): Promise<ProvisionResult> {
  const jsm = await jetstreamManager(nc);
  const plan = await buildPlan(jsm, cfg, {
    serverVersion: nc.info?.version ?? "0.0.0",
    owners: options.owners,
  });
  const drift = hasDrift(plan);
  const { progress } = options;
  if (mode === "plan") {
    for (const line of formatPlan(plan).split("\n")) progress("info", line);
    return { drift, plan };
  }
  if (mode === "verify") {
    if (drift) {
      const differing: Plan = {
        ...plan,
        items: plan.items.filter((i) => i.action !== "unchanged"),
      };
      for (const line of formatPlan(differing).split("\n").slice(0, -1)) progress("error", line);
      progress(
        "error",
        `verify: FAILED: ${differing.items.length} of ${plan.items.length} declared object(s) ` +
          "differ from the server (jetport provision plan shows the details)",
      );
    } else {
      progress(
        "info",
        `verify: OK: ${plan.items.length} declared object(s) match the server` +
          (plan.extras.length ? ` (${plan.extras.length} unmanaged left alone)` : ""),
      );
    }
    return { drift, plan };
  }
  const applied = await applyPlan(nc, jsm, plan, {
    allowDestructive: options.allowDestructive,
    progress,
  });
  for (const e of plan.extras) {
    progress("info", `unmanaged ${e.type} ${e.id}: left alone` + (e.note ? ` (${e.note})` : ""));
  }
  const bad = applyLeftDrift(applied) || applied.failed.length > 0;
  progress(bad ? "error" : "info", applySummary(applied));
  return { drift: applyLeftDrift(applied), plan, applied };
}
