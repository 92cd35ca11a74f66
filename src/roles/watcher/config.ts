/**
 * Config schema of `roles.watcher`.
 * @module
 */
import { z } from "zod";
import { duration } from "../../config/units.ts";
import { globProblem } from "./glob.ts";

/** An include/exclude pattern, compiled here so a bad one is reported at its line and column. */
const glob = z.string().superRefine((pattern, ctx) => {
  const problem = globProblem(pattern);
  if (problem) ctx.addIssue({ code: "custom", message: problem });
});

/** One watched directory. */
export const watchSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9_-]+$/, "watch names may use letters, digits, _ and -"),
  path: z.string().min(1),
  recursive: z.boolean().default(true),
  include: z.array(glob).default(["**/*"]),
  exclude: z.array(glob).default([]),
  ignore_temp_files: z.boolean().default(true),
  events: z.array(z.enum(["created", "modified", "deleted", "renamed"])).min(1)
    .default(["created", "modified", "deleted", "renamed"]),
  stream: z.string().default("FILES"),
  subject: z.string().default("file.events"),
  settle: duration().default(250),
  checksum: z.enum(["none", "sha256"]).default("none"),
  rescan_interval: duration().default(600_000),
});

/** `roles.watcher`. */
export const watcherSchema = z.strictObject({
  enabled: z.boolean().default(true),
  watches: z.array(watchSchema).min(1),
  publish_deadline: duration().default(30_000),
  cookie_interval: duration().default(10_000),
  burst_threshold: z.number().int().min(1).default(2000),
  poll_interval: duration().default(10_000),
}).superRefine((w, ctx) => {
  const seen = new Set<string>();
  w.watches.forEach((watch, i) => {
    if (seen.has(watch.name)) {
      ctx.addIssue({
        code: "custom",
        path: ["watches", i, "name"],
        message: `watch name "${watch.name}" is used twice`,
      });
    }
    seen.add(watch.name);
  });
});

/** One parsed watch. */
export type WatchConfig = z.output<typeof watchSchema>;
/** A parsed `roles.watcher` section. */
export type WatcherConfig = z.output<typeof watcherSchema>;
