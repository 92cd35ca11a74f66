/**
 * The config file of this build: the daemon-wide sections (`src/config`) plus one section per
 * role, each role's schema coming from its own `config.ts`. This is where the two meet, so that
 * `src/config` never imports role code; importing it pulls in the roles' schemas only, never
 * their implementations.
 * @module
 */
import { z } from "zod";
import { configSchemaWith } from "../config/schema.ts";
import { enabledSections } from "../config/enabled_roles.ts";
import { provisionerSchema } from "./stream_provisioner/config.ts";
import { watcherSchema } from "./watcher/config.ts";
import { monitorSchema } from "./monitor/config.ts";
import { uploadProcessorSchema } from "./upload_processor/config.ts";
import { dlqRedriverSchema } from "./dlq_redriver/config.ts";

/** The names of all roles, in start order: the provisioner first, so streams exist. */
export const ROLE_NAMES = [
  "stream_provisioner",
  "dlq_redriver",
  "monitor",
  "upload_processor",
  "watcher",
] as const;

/** A role's name (its key under `roles:`). */
export type RoleName = typeof ROLE_NAMES[number];

/** Role name → schema of its section; every role has one (checked by the `satisfies`). */
export const ROLE_SCHEMAS = {
  stream_provisioner: provisionerSchema,
  watcher: watcherSchema,
  monitor: monitorSchema,
  upload_processor: uploadProcessorSchema,
  dlq_redriver: dlqRedriverSchema,
} satisfies Record<RoleName, z.ZodType>;

/** The `roles:` section: every role's section optional (present means on). */
const rolesSchema = z.strictObject({
  stream_provisioner: ROLE_SCHEMAS.stream_provisioner.optional(),
  watcher: ROLE_SCHEMAS.watcher.optional(),
  monitor: ROLE_SCHEMAS.monitor.optional(),
  upload_processor: ROLE_SCHEMAS.upload_processor.optional(),
  dlq_redriver: ROLE_SCHEMAS.dlq_redriver.optional(),
}).prefault({});

/** The whole config file. */
export const configSchema = configSchemaWith(rolesSchema);

/** A parsed, validated config. */
export type Config = z.output<typeof configSchema>;

/** Every role's parsed section, by role name. */
export type RoleSections = { [N in RoleName]: NonNullable<Config["roles"][N]> };

/** The parsed section of role `N`. */
export type RoleSection<N extends RoleName> = RoleSections[N];

/** Names of the roles enabled in `config`, in start order ({@link ROLE_NAMES}). */
export function enabledRoles(config: Config): RoleName[] {
  return enabledSections(config.roles, ROLE_NAMES);
}
