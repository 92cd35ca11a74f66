/**
 * The whole config file's schema, composed from the shared sections and one schema per role.
 * @module
 */
import { z } from "zod";
import { httpSchema, logSchema, natsSchema, shutdownSchema } from "./common.ts";
import { ROLE_SCHEMAS } from "../roles/schemas.ts";

/** The `roles:` section: one optional key per role. */
const rolesSchema = z.strictObject(ROLE_SCHEMAS).prefault({});

/** The config file. */
export const configSchema = z.strictObject({
  nats: natsSchema.prefault({}),
  http: httpSchema.prefault({}),
  log: logSchema.prefault({}),
  shutdown: shutdownSchema.prefault({}),
  state_dir: z.string().default("./data/state"),
  roles: rolesSchema,
});

/** A parsed, validated config. */
export type Config = z.output<typeof configSchema>;
/** The `nats:` section after parsing. */
export type NatsConfig = Config["nats"];
