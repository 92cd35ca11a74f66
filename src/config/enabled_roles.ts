/**
 * Which roles a config turns on: a role runs when its section is present and does not say
 * `enabled: false`. The daemon, reload, validate and the config checks all ask this one place.
 * @module
 */
import type { Config } from "./schema.ts";
import { ROLE_NAMES, type RoleName } from "../roles/schemas.ts";

/** Names of the roles enabled in `config`, in start order ({@link ROLE_NAMES}). */
export function enabledRoles(config: Config): RoleName[] {
  return ROLE_NAMES.filter((name) => {
    const section = config.roles[name] as { enabled?: boolean } | undefined;
    return section !== undefined && section.enabled !== false;
  });
}
