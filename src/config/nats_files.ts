/**
 * The files the `nats` section names (creds, nkey seed, TLS CA/certificate/key) are read only
 * when connecting; checking at load time lets `validate` name a missing or unreadable one with
 * its place in the config, before a deploy, instead of the daemon finding out at its first
 * connect. (`*_file` secrets such as `pass_file` are read while loading and need no check here.)
 * @module
 */
import type { CheckProblem } from "./checks.ts";
import type { NatsConfig } from "./schema.ts";

/** Problems with the files `config.nats` names: each one missing, unreadable, or not a file. */
export function natsFileChecks(config: { nats: NatsConfig }): CheckProblem[] {
  const { nats } = config;
  const files: [PropertyKey[], string | undefined][] = [
    [["nats", "creds_file"], nats.creds_file],
    [["nats", "nkey_seed_file"], nats.nkey_seed_file],
    [["nats", "tls", "ca_file"], nats.tls?.ca_file],
    [["nats", "tls", "cert_file"], nats.tls?.cert_file],
    [["nats", "tls", "key_file"], nats.tls?.key_file],
  ];
  const problems: CheckProblem[] = [];
  for (const [path, file] of files) {
    if (!file) continue;
    const why = unreadable(file);
    if (why) problems.push({ path, message: `cannot read ${file}: ${why}` });
  }
  return problems;
}

/** Why `file` cannot be read, or undefined when it can. */
function unreadable(file: string): string | undefined {
  try {
    if (!Deno.statSync(file).isFile) return "not a file";
    Deno.openSync(file, { read: true }).close();
    return undefined;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return "no such file";
    if (err instanceof Deno.errors.PermissionDenied) return "permission denied";
    return (err as Error).message;
  }
}
