/**
 * `${VAR}` and `${VAR:-default}` interpolation of config strings.
 * @module
 */

/** A variable that was referenced but is unset and has no default. */
export interface MissingVariable {
  /** The variable's name. */
  name: string;
}

const PATTERN = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|\$\$/g;

/**
 * Replaces `${VAR}` and `${VAR:-default}` in `text` with values from `env`; `$$` is a literal `$`.
 * Unset variables without a default are reported in `missing` and replaced by "".
 */
export function interpolate(
  text: string,
  env: (name: string) => string | undefined,
  missing: MissingVariable[] = [],
): string {
  return text.replace(PATTERN, (whole, name: string | undefined, fallback: string | undefined) => {
    if (whole === "$$") return "$";
    const value = env(name!);
    if (value !== undefined && value !== "") return value;
    if (fallback !== undefined) return fallback;
    if (value === undefined) missing.push({ name: name! });
    return "";
  });
}
