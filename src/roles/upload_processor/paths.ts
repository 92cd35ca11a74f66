/**
 * Where a downloaded file lands, and the checks that keep it inside `download_dir`: S3 keys and
 * the producer's `original_filename` come from the network and must not be able to name
 * `../../etc/cron.d/x`.
 * @module
 */
import { isAbsolute, join, relative, resolve } from "node:path";
import { permanent } from "./failure.ts";

// Path separators of every OS, NUL, and other control characters.
// deno-lint-ignore no-control-regex
const BAD_CHARS = /[\u0000-\u001f\u007f\\]/;

/**
 * Checks an S3 key from an event: relative, `/`-separated, no `.`/`..` or empty segments, no
 * backslashes or control characters. Throws a permanent `unsafe_path`.
 */
export function checkKey(key: string, field: string): void {
  const segments = key.split("/");
  if (
    key.startsWith("/") || BAD_CHARS.test(key) ||
    segments.some((s) => s === "" || s === "." || s === "..")
  ) {
    throw permanent("unsafe_path", `${field} ${JSON.stringify(key)} is not a safe object key`);
  }
}

/**
 * Checks a file name (one path component, not `.`/`..`, no separators or control characters).
 * Throws a permanent `unsafe_path`.
 */
export function checkFilename(name: string, field: string): void {
  if (
    name === "" || name === "." || name === ".." || name.includes("/") || BAD_CHARS.test(name) ||
    name.length > 255
  ) {
    throw permanent("unsafe_path", `${field} ${JSON.stringify(name)} is not a safe file name`);
  }
}

/**
 * The local path for an upload: `<download_dir>/<file_uuid>/<filename>`, checked to resolve
 * inside `downloadDir` (belt and braces after {@link checkFilename}).
 */
export function localPath(downloadDir: string, fileUuid: string, filename: string): string {
  checkFilename(fileUuid, "file_uuid");
  checkFilename(filename, "original_filename");
  const root = resolve(downloadDir);
  const path = resolve(join(root, fileUuid, filename));
  const rel = relative(root, path);
  if (rel === "" || rel.startsWith("..") || isAbsolute(rel)) {
    throw permanent("unsafe_path", `${filename} would be written outside ${downloadDir}`);
  }
  return path;
}
