/**
 * Schemas for the config sections every role shares: `nats`, `http`, `log`, `state_dir`.
 * @module
 */
import { z } from "zod";
import { duration, size } from "./units.ts";

/** One or many strings: `"a"` or `["a", "b"]`, always a list after parsing. */
export function stringList() {
  return z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).transform((v) =>
    typeof v === "string" ? [v] : v
  );
}

/** The `nats:` section. */
export const natsSchema = z.strictObject({
  servers: stringList().default(["nats://127.0.0.1:4222"]),
  name: z.string().default("jetport"),
  user: z.string().optional(),
  pass: z.string().optional(),
  token: z.string().optional(),
  creds_file: z.string().optional(),
  nkey_seed_file: z.string().optional(),
  tls: z.strictObject({
    ca_file: z.string().optional(),
    cert_file: z.string().optional(),
    key_file: z.string().optional(),
    handshake_first: z.boolean().default(false),
  }).optional(),
  reconnect: z.strictObject({
    max_attempts: z.number().int().min(-1).default(-1),
    wait: duration().default(2000),
    jitter: duration().default(500),
    max_wait: duration().default(30_000),
  }).prefault({}),
  timeout: duration().default(5000),
}).superRefine((v, ctx) => {
  if ((v.user === undefined) !== (v.pass === undefined)) {
    ctx.addIssue({
      code: "custom",
      path: [v.user === undefined ? "user" : "pass"],
      message: "user and pass go together: set both, or use token / creds_file / nkey_seed_file",
    });
  }
  const methods = [v.user, v.token, v.creds_file, v.nkey_seed_file].filter((m) => m !== undefined);
  if (methods.length > 1) {
    ctx.addIssue({
      code: "custom",
      path: [],
      message: "choose one of user/pass, token, creds_file, nkey_seed_file",
    });
  }
  if ((v.tls?.cert_file === undefined) !== (v.tls?.key_file === undefined)) {
    ctx.addIssue({
      code: "custom",
      path: ["tls"],
      message: "cert_file and key_file go together (client certificate and its key)",
    });
  }
});

/** Parses `host:port` for the HTTP listener; `""` turns it off. */
const listenSchema = z.string().transform((v, ctx) => {
  if (v === "") return null;
  const m = /^(\[[^\]]+\]|[^:]*):(\d{1,5})$/.exec(v);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) {
    ctx.addIssue({ code: "custom", message: `"${v}" is not host:port (e.g. 127.0.0.1:9464)` });
    return z.NEVER;
  }
  return { hostname: m[1].replace(/^\[|\]$/g, "") || "127.0.0.1", port };
});

/** The `http:` section. */
export const httpSchema = z.strictObject({
  listen: listenSchema.default({ hostname: "127.0.0.1", port: 9464 }),
});

/** The `log:` section. */
export const logSchema = z.strictObject({
  level: z.enum(["debug", "info", "warning", "error"]).default("info"),
  format: z.enum(["text", "json"]).default("text"),
  file: z.string().nullable().default(null),
  rotate: z.strictObject({
    max_size: size().default(100 * 1024 * 1024),
    keep: z.number().int().min(1).default(5),
  }).prefault({}),
});

/** The `shutdown:` section: how long in-flight work may take after a stop signal. */
export const shutdownSchema = z.strictObject({
  grace: duration().default(30_000),
});
