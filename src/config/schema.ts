/**
 * The config file's schema, built from the shared sections and the role sections it is given.
 * The role schemas belong to the roles (`src/roles/schemas.ts` assembles them), so this module
 * only knows the daemon-wide sections and how to compose: `src/config` never imports role code.
 * @module
 */
import { z } from "zod";
import { httpSchema, logSchema, natsSchema, shutdownSchema } from "./common.ts";

/** The daemon-wide sections, shared by every build. */
const baseShape = {
  nats: natsSchema.prefault({}),
  http: httpSchema.prefault({}),
  log: logSchema.prefault({}),
  shutdown: shutdownSchema.prefault({}),
  state_dir: z.string().default("./data/state"),
};

/** The daemon-wide part of the file (everything but `roles:`). */
const baseSchema = z.strictObject(baseShape);

/**
 * The config file's schema with `roles` as the schema of the `roles:` section. Unknown keys
 * anywhere are errors.
 */
export function configSchemaWith<R extends z.ZodType>(roles: R) {
  return z.strictObject({ ...baseShape, roles });
}

/** The daemon-wide part of a parsed config (everything but `roles:`). */
export type BaseConfig = z.output<typeof baseSchema>;
/** The `nats:` section after parsing. */
export type NatsConfig = BaseConfig["nats"];
