/**
 * The directories a running jetport writes to (or watches), computed from its config, so a service
 * definition can open exactly those in an otherwise read-only sandbox.
 * @module
 */
import { posix, win32 } from "node:path";
import type { BaseConfig } from "../../config/schema.ts";
import { osPaths } from "../paths.ts";

/**
 * What a service definition reads of the config: the daemon-wide sections and the role keys that
 * name directories. Spelled out here because `src/platform` does not import the roles' schemas;
 * the parsed config fits it.
 */
export type ServiceConfig = BaseConfig & {
  roles: {
    monitor?: { enabled?: boolean; output: { path: string } };
    upload_processor?: { enabled?: boolean; download_dir: string };
    watcher?: { enabled?: boolean; watches: { path: string }[]; cookie_interval?: number };
  };
};

/** A directory the service needs, and why (shown as a comment in the unit). */
export interface ServicePath {
  /** Absolute directory. */
  path: string;
  /** The config key it comes from, e.g. `state_dir`. */
  from: string;
}

/** Which path rules apply: the target OS of the service, not the OS generating it. */
export type PathStyle = "posix" | "windows";

/** `path` made absolute against `base` (relative config paths are relative to the working dir). */
export function absolute(path: string, base: string, style: PathStyle): string {
  return style === "windows" ? win32.resolve(base, path) : posix.resolve(base, path);
}

/**
 * Every directory jetport writes to under `config`, plus the watched directories, absolute against
 * `workdir`, without duplicates or paths nested in another listed one.
 */
export function servicePaths(
  config: ServiceConfig,
  workdir: string,
  style: PathStyle,
): ServicePath[] {
  const dirname = style === "windows" ? win32.dirname : posix.dirname;
  const found: ServicePath[] = [{ path: config.state_dir, from: "state_dir" }];
  if (config.log.file) found.push({ path: dirname(config.log.file), from: "log.file" });
  const roles = config.roles;
  if (roles.monitor && roles.monitor.enabled !== false) {
    found.push({ path: dirname(roles.monitor.output.path), from: "roles.monitor.output.path" });
  }
  if (roles.upload_processor && roles.upload_processor.enabled !== false) {
    found.push({
      path: roles.upload_processor.download_dir,
      from: "roles.upload_processor.download_dir",
    });
  }
  if (roles.watcher && roles.watcher.enabled !== false) {
    roles.watcher.watches.forEach((w, i) => {
      found.push({ path: w.path, from: `roles.watcher.watches[${i}].path` });
    });
  }
  const resolved = found.map((p) => ({ ...p, path: absolute(p.path, workdir, style) }));
  // Nested or equal, with Windows' rules (either separator, any case) on a Windows target.
  const os = osPaths(style);
  const inside = (child: string, parent: string) => os.keyOf(parent, child) !== undefined;
  return resolved.filter((p, i) =>
    !resolved.some((q, j) =>
      j !== i && inside(p.path, q.path) && (!os.same(p.path, q.path) || j < i)
    )
  );
}
