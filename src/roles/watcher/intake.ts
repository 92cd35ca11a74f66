/**
 * The watcher's event intake: the OS paths of one `Deno.FsEvent` (on Windows `C:\data\in\a.txt`,
 * any case, either separator) turned into the watch's `/`-separated keys, with the cookie file
 * and paths outside the root or filtered out set aside. A pure function, so it is tested with
 * Windows-shaped events on any OS.
 * @module
 */
import { keyAncestors, type OsPaths } from "../../platform/paths.ts";
import type { PathFilter } from "./filter.ts";

/** What the intake needs to know about the watch. */
export interface IntakeContext {
  /** The watched root as an OS path. */
  root: string;
  /** The OS-path functions of the platform. */
  paths: OsPaths;
  /** The name of the watch's cookie file in the root. */
  cookieName: string;
  /** The watch's filter. */
  filter: PathFilter;
}

/** What one event says. */
export interface EventIntake {
  /** Keys of the paths to reconcile (files and directories the filter considers). */
  keys: string[];
  /** True when the event names the cookie file. */
  cookie: boolean;
}

/** True when the filter considers `key`: none of its directories is excluded, and it is wanted. */
export function considered(filter: PathFilter, key: string): boolean {
  for (const dir of keyAncestors(key)) if (!filter.dir(dir)) return false;
  return filter.file(key) || filter.dir(key);
}

/** The keys `event` names (a rename names both paths: both are reconciled). */
export function eventKeys(event: Deno.FsEvent, ctx: IntakeContext): EventIntake {
  const out: EventIntake = { keys: [], cookie: false };
  for (const path of event.paths) {
    const key = ctx.paths.keyOf(ctx.root, path);
    if (key === undefined || key === "") continue;
    if (key === ctx.cookieName) out.cookie = true;
    else if (considered(ctx.filter, key)) out.keys.push(key);
  }
  return out;
}
