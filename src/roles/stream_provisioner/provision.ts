/**
 * One provisioning run in a mode (`plan`, `apply`, `verify`), shared by the CLI and the role:
 * read the server's version and objects, build the plan, and print / apply / judge it.
 * @module
 */
import type { NatsConnection } from "@nats-io/nats-core";
import { jetstreamManager } from "@nats-io/jetstream";
import type { Config } from "../schemas.ts";
import type { ProvisionerConfig } from "./config.ts";
import { buildPlan, formatPlan, hasDrift, type Plan, type PlanItem } from "./plan.ts";
import { streamHealth } from "./health.ts";
import { KV_PREFIX } from "./model.ts";
import { readMeta } from "./meta.ts";
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
  /**
   * Declared streams and buckets whose replicas are degraded (one line each, naming the object and
   * why). `verify` from the CLI fails on these; the role only logs them, since a degraded stream
   * still serves and making every daemon unready would not bring the node back.
   */
  degraded: string[];
}

/** One line per declared stream or bucket whose replicas are degraded. */
function degradedItems(items: PlanItem[]): string[] {
  const out: string[] = [];
  for (const item of items) {
    if (item.type === "consumer" || !item.actual) continue;
    const health = streamHealth(item.actual);
    if (!health?.degraded) continue;
    out.push(
      `${item.type} ${item.id}: DEGRADED (${health.problems.join("; ")}); leader ` +
        `${health.leader ?? "none"}, ${item.actual.config.num_replicas} replica(s) declared`,
    );
  }
  return out;
}

/** Streams other roles own, named among unmanaged extras so nobody wonders where they came from. */
export function streamOwners(config: Config): Record<string, string> {
  const owners: Record<string, string> = {};
  const dlq = config.roles.dlq_redriver;
  if (dlq && dlq.enabled) owners[dlq.dlq_stream] = "the dlq_redriver's dead-letter stream";
  const uploads = config.roles.upload_processor;
  if (uploads && uploads.enabled) {
    owners[KV_PREFIX + uploads.dedupe_bucket] = "the upload_processor's dedupe bucket";
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
  const cluster = nc.info?.cluster;
  const plan = await buildPlan(jsm, cfg, {
    serverVersion: nc.info?.version ?? "0.0.0",
    owners: options.owners,
    server: nc.info,
    meta: cluster ? await readMeta(nc, cluster) : undefined,
  });
  const drift = hasDrift(plan);
  const degraded = degradedItems(plan.items);
  const { progress } = options;
  if (mode === "plan") {
    for (const line of formatPlan(plan).split("\n")) progress("info", line);
    for (const line of degraded) progress("warning", line);
    return { drift, plan, degraded };
  }
  if (mode === "verify") {
    const failures: string[] = [];
    if (drift) {
      const differing: Plan = {
        ...plan,
        items: plan.items.filter((i) => i.action !== "unchanged"),
      };
      for (const line of formatPlan(differing).split("\n").slice(0, -1)) progress("error", line);
      failures.push(
        `${differing.items.length} of ${plan.items.length} declared object(s) differ from the ` +
          "server (jetport provision plan shows the details)",
      );
    }
    for (const line of degraded) progress("error", line);
    if (degraded.length > 0) {
      failures.push(
        `${degraded.length} stream(s)/bucket(s) degraded: a replica is down or behind (jetport ` +
          "status shows each replica; bring the server back or wait until it catches up)",
      );
    }
    if (failures.length > 0) progress("error", `verify: FAILED: ${failures.join("; ")}`);
    else {
      progress(
        "info",
        `verify: OK: ${plan.items.length} declared object(s) match the server` +
          (plan.extras.length ? ` (${plan.extras.length} unmanaged left alone)` : ""),
      );
    }
    return { drift, plan, degraded };
  }
  for (const line of degraded) progress("warning", line);
  const applied = await applyPlan(nc, jsm, plan, {
    allowDestructive: options.allowDestructive,
    progress,
  });
  for (const e of plan.extras) {
    progress("info", `unmanaged ${e.type} ${e.id}: left alone` + (e.note ? ` (${e.note})` : ""));
  }
  const bad = applyLeftDrift(applied) || applied.failed.length > 0;
  progress(bad ? "error" : "info", applySummary(applied));
  return { drift: applyLeftDrift(applied), plan, applied, degraded };
}
