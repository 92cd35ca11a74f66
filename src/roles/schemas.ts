/**
 * The config schema of every role, keyed by the role's name under `roles:`.
 * @module
 */
import { provisionerSchema } from "./stream_provisioner/config.ts";
import { watcherSchema } from "./watcher/config.ts";
import { monitorSchema } from "./monitor/config.ts";
import { uploadProcessorSchema } from "./upload_processor/config.ts";
import { dlqRedriverSchema } from "./dlq_redriver/config.ts";

/** Role name → schema of its section. Every section is optional: present means on. */
export const ROLE_SCHEMAS = {
  stream_provisioner: provisionerSchema.optional(),
  watcher: watcherSchema.optional(),
  monitor: monitorSchema.optional(),
  upload_processor: uploadProcessorSchema.optional(),
  dlq_redriver: dlqRedriverSchema.optional(),
};

/** The names of all roles, in start order: the provisioner first, so streams exist. */
export const ROLE_NAMES = [
  "stream_provisioner",
  "dlq_redriver",
  "monitor",
  "upload_processor",
  "watcher",
] as const;

/** A role's name. */
export type RoleName = typeof ROLE_NAMES[number];
