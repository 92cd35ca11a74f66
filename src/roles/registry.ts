/**
 * Which roles this build implements: role name → factory. The daemon starts the enabled ones in
 * {@link ROLE_NAMES} order.
 * @module
 */
import type { RoleFactory } from "./role.ts";
import type { RoleName } from "./schemas.ts";
import { createStreamProvisioner } from "./stream_provisioner/role.ts";
import { createMonitor } from "./monitor/role.ts";
import { createUploadProcessor } from "./upload_processor/upload_processor.ts";
import { createDlqRedriver } from "./dlq_redriver/role.ts";
import { createWatcherRole } from "./watcher/role.ts";

/** Implemented roles. */
export const ROLE_FACTORIES: Partial<Record<RoleName, RoleFactory>> = {
  stream_provisioner: createStreamProvisioner,
  monitor: createMonitor,
  upload_processor: createUploadProcessor,
  dlq_redriver: createDlqRedriver,
  watcher: createWatcherRole,
};
