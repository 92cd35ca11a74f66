/**
 * Keeps secrets out of every log line, error and metric: config secrets are registered once and
 * replaced by `[redacted]` wherever text leaves the process.
 * @module
 */

const secrets = new Set<string>();

/** Registers a secret value; values shorter than 4 characters are ignored (too common to mask). */
export function registerSecret(value: string | undefined): void {
  if (value && value.length >= 4) secrets.add(value);
}

/** Replaces every registered secret in `text` by `[redacted]`. */
export function redact(text: string): string {
  let out = text;
  for (const s of secrets) {
    if (out.includes(s)) out = out.replaceAll(s, "[redacted]");
  }
  // URLs with inline credentials: nats://user:pass@host, and nats://TOKEN@host (a NATS URL's
  // user info without a password is a token).
  return out
    .replace(/(\w+:\/\/[^:\/\s@]+:)[^@\s\/]+@/g, "$1[redacted]@")
    .replace(/(\w+:\/\/)[^:\/\s@\[]+@/g, "$1[redacted]@");
}
