/**
 * Every role of this build, by name: the one place that knows them all. Each role exports a
 * factory that takes its own typed config section; the registry binds it to the section of the
 * config it is started with, so the daemon (and tests) create any role the same way. A full
 * `Record` of the role names: a role without a factory does not compile.
 * @module
 */
import type { Role, RoleContext, RoleFactory } from "./role.ts";
import type { RoleName, RoleSection, RoleSections } from "./schemas.ts";
import { createStreamProvisioner } from "./stream_provisioner/role.ts";
import { createMonitor } from "./monitor/role.ts";
import { createUploadProcessor } from "./upload_processor/role.ts";
import { createDlqRedriver } from "./dlq_redriver/role.ts";
import { createWatcherRole } from "./watcher/role.ts";

/**
 * Binds a role's factory to its section of `ctx.config`. The daemon creates only enabled roles,
 * so a missing section is a bug in the caller, reported as such.
 */
export function withSection<N extends RoleName>(
  name: N,
  create: (ctx: RoleContext, section: RoleSection<N>) => Role,
): RoleFactory {
  return (ctx) => {
    const sections: Partial<RoleSections> = ctx.config.roles;
    const section = sections[name];
    if (section === undefined) throw new Error(`roles.${name} is not in the config`);
    return create(ctx, section);
  };
}

/** Role name → factory, for the daemon's supervisor. */
export const ROLE_FACTORIES: Record<RoleName, RoleFactory> = {
  stream_provisioner: withSection("stream_provisioner", createStreamProvisioner),
  dlq_redriver: withSection("dlq_redriver", createDlqRedriver),
  monitor: withSection("monitor", createMonitor),
  upload_processor: withSection("upload_processor", createUploadProcessor),
  watcher: withSection("watcher", (ctx, section) => createWatcherRole(ctx, section)),
};
