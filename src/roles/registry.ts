/**
 * Every role of this build, by name: the one place that knows them all. Each role exports a
 * factory that takes its own typed config section; the registry binds it to the section of the
 * config it is started with, so the daemon (and tests) create any role the same way. A full
 * `Record` of the role names: a role without a factory does not compile. A role's module is
 * imported when the role starts, not with this one: a daemon running only the watcher does not
 * load (or hold in memory) the S3 client, the monitor's output or the provisioner.
 * @module
 */
import type { Role, RoleContext, RoleFactory } from "./role.ts";
import type { RoleName, RoleSection, RoleSections } from "./schemas.ts";

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

/** A role's own factory, as its module is imported. */
type Create<N extends RoleName> = (ctx: RoleContext, section: RoleSection<N>) => Role;

/**
 * A role whose code is imported when it starts, so a daemon loads (and holds in memory) only the
 * roles it runs. Until then it is not ready; a stop before the import finished leaves nothing
 * running. The specifiers in {@link ROLE_FACTORIES} are string literals: `deno compile` follows
 * those into the binary like static imports.
 */
export function lazyRole<N extends RoleName>(
  name: N,
  load: () => Promise<Create<N>>,
): RoleFactory {
  return withSection(name, (ctx, section) => {
    let role: Role | undefined;
    let stopped = false;
    return {
      name,
      async start() {
        const create = await load();
        if (stopped) return;
        role = create(ctx, section);
        await role.start();
      },
      async stop(deadline) {
        stopped = true;
        await role?.stop(deadline);
      },
      notReadyReason: () => role ? role.notReadyReason() : "starting",
    };
  });
}

/** Role name → factory, for the daemon's supervisor. */
export const ROLE_FACTORIES: Record<RoleName, RoleFactory> = {
  stream_provisioner: lazyRole(
    "stream_provisioner",
    async () => (await import("./stream_provisioner/role.ts")).createStreamProvisioner,
  ),
  dlq_redriver: lazyRole(
    "dlq_redriver",
    async () => (await import("./dlq_redriver/role.ts")).createDlqRedriver,
  ),
  monitor: lazyRole("monitor", async () => (await import("./monitor/role.ts")).createMonitor),
  upload_processor: lazyRole(
    "upload_processor",
    async () => (await import("./upload_processor/role.ts")).createUploadProcessor,
  ),
  watcher: lazyRole("watcher", async () => {
    const { createWatcherRole } = await import("./watcher/role.ts");
    return (ctx, section) => createWatcherRole(ctx, section);
  }),
};
