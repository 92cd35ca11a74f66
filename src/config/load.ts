/**
 * Loads a YAML config file: parse with positions, interpolate `${VAR}`, read `*_file` secrets,
 * validate with zod, and report every problem at once with line, column and key path.
 * @module
 */
import { isMap, isScalar, LineCounter, parseDocument, visit } from "yaml";
import type { Document, Node, Pair, Scalar, YAMLMap } from "yaml";
import type { z } from "zod";
import type { ConfigCheck } from "./checks.ts";
import { ConfigError, type ConfigProblem, formatPath } from "./errors.ts";
import { interpolate, type MissingVariable } from "./interpolate.ts";
import { closest } from "./suggest.ts";
import { knownKeysAt } from "./shape.ts";
import { registerSecret } from "../platform/redact.ts";

/** Keys whose values are secrets: redacted everywhere, and readable from `<key>_file`. */
const SECRET_KEYS = new Set([
  "pass",
  "token",
  "secret_access_key",
  "access_key_id",
  "session_token",
]);

/**
 * What a config of type `C` is: its schema and the whole-config checks run once it parses. The
 * role registry supplies the one for jetport's roles (`src/roles/config.ts`).
 */
export interface ConfigSpec<C> {
  /** The schema of the whole file. */
  schema: z.ZodType<C>;
  /** Checks across sections, run only when the schema found nothing. */
  checks: readonly ConfigCheck<C>[];
}

/** Where a config comes from and how its environment is read. */
export interface LoadOptions {
  /** Reads an environment variable (default: `Deno.env.get`). */
  env?: (name: string) => string | undefined;
  /** Reads a secret file (default: `Deno.readTextFileSync`). */
  readFile?: (path: string) => string;
}

/**
 * Reads and validates the config file at `file`; throws {@link ConfigError} listing every problem.
 */
export async function loadConfig<C>(
  spec: ConfigSpec<C>,
  file: string,
  options: LoadOptions = {},
): Promise<C> {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (err) {
    throw new ConfigError([
      { file, path: "(file)", message: `cannot read config: ${readFailure(err)}` },
    ]);
  }
  return parseConfig(spec, text, file, options);
}

/** Why a file could not be read, in words ("file not found", else the error itself). */
function readFailure(err: unknown): string {
  return err instanceof Deno.errors.NotFound ? "file not found" : String(err);
}

/** Validates config text; `file` names it in problems. */
export function parseConfig<C>(
  spec: ConfigSpec<C>,
  text: string,
  file: string,
  options: LoadOptions = {},
): C {
  const env = options.env ?? ((name: string) => Deno.env.get(name));
  const readFile = options.readFile ?? ((path: string) => Deno.readTextFileSync(path));
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const problems: ConfigProblem[] = [];
  const at = (offset: number | undefined) => {
    if (offset === undefined) return {};
    const { line, col } = lines.linePos(offset);
    return { line, column: col };
  };

  for (const e of [...doc.errors, ...doc.warnings]) {
    problems.push({ file, ...at(e.pos[0]), path: "(yaml)", message: e.message.split("\n")[0] });
  }
  if (doc.errors.length > 0) throw new ConfigError(problems);

  substitute(doc, env, readFile, (node, path, message) => {
    problems.push({ file, ...at(node.range?.[0]), path: formatPath(path), message });
  });

  const result = spec.schema.safeParse(doc.toJS() ?? {});
  if (!result.success) {
    for (const issue of flattenIssues(result.error.issues)) {
      problems.push(...describeIssue(spec.schema, issue, doc, file, at));
    }
  }
  if (result.success && problems.length === 0) {
    for (const check of spec.checks) {
      for (const p of check(result.data)) {
        const node = closestNode(doc, p.path);
        problems.push({
          file,
          ...at(node?.range?.[0]),
          path: formatPath(p.path),
          message: p.message,
        });
      }
    }
  }
  if (problems.length > 0) throw new ConfigError(sortProblems(problems));
  return result.data!;
}

/**
 * Interpolates `${VAR}` in every string scalar and replaces `<secret>_file` keys by file contents.
 */
function substitute(
  doc: Document,
  env: (name: string) => string | undefined,
  readFile: (path: string) => string,
  report: (node: Node, path: PropertyKey[], message: string) => void,
) {
  visit(doc, {
    Scalar(_key, node, ancestry) {
      if (typeof node.value !== "string" || !node.value.includes("$")) return;
      const missing: MissingVariable[] = [];
      node.value = interpolate(node.value, env, missing);
      for (const m of missing) {
        report(node, pathOf(ancestry, node), `environment variable ${m.name} is not set`);
      }
    },
  });
  visit(doc, {
    Map(_key, map, ancestry) {
      for (const pair of [...map.items]) {
        const key = isScalar(pair.key) ? String(pair.key.value) : "";
        const valueNode = pair.value as Scalar | null;
        if (SECRET_KEYS.has(key) && isScalar(valueNode) && typeof valueNode.value === "string") {
          registerSecret(valueNode.value);
        }
        const base = key.replace(/_file$/, "");
        if (!key.endsWith("_file") || !SECRET_KEYS.has(base)) continue;
        const path = [...pathOf(ancestry, map), key];
        if (map.has(base)) {
          report(pair.key as Node, path, `set ${base} or ${key}, not both`);
          continue;
        }
        let secret = "";
        try {
          secret = readFile(String(valueNode?.value ?? "")).replace(/\r?\n$/, "");
          registerSecret(secret);
        } catch (err) {
          report(
            valueNode ?? (pair.key as Node),
            path,
            `cannot read secret file: ${readFailure(err)}`,
          );
        }
        // Replaced in place (the problem above, if any, already names the _file key).
        map.set(base, secret);
        map.delete(key);
      }
    },
  });
}

/** The key path of `node` given the ancestry that `visit` passes. */
function pathOf(ancestry: readonly unknown[], node: unknown): PropertyKey[] {
  const path: PropertyKey[] = [];
  const chain = [...ancestry, node];
  for (let i = 0; i < chain.length - 1; i++) {
    const parent = chain[i] as { items?: unknown[] };
    const child = chain[i + 1];
    if (!parent || !Array.isArray(parent.items)) continue;
    if (isMap(parent)) {
      const pair = child as Pair;
      if (isScalar(pair.key)) path.push(String(pair.key.value));
    } else {
      const idx = parent.items.indexOf(child);
      if (idx >= 0) path.push(idx);
    }
  }
  return path;
}

/** Unions report one list of issues per option; keep the option that came closest. */
function flattenIssues(issues: readonly z.core.$ZodIssue[]): z.core.$ZodIssue[] {
  return issues.flatMap((issue) => {
    if (issue.code !== "invalid_union" || !issue.errors?.length) return [issue];
    const best = [...issue.errors].sort((a, b) => depth(b) - depth(a) || a.length - b.length)[0];
    return flattenIssues(best.map((i) => ({ ...i, path: [...issue.path, ...i.path] })));
  });
}

function depth(issues: readonly z.core.$ZodIssue[]): number {
  return Math.max(0, ...issues.map((i) => i.path.length));
}

function describeIssue(
  schema: z.ZodType,
  issue: z.core.$ZodIssue,
  doc: Document,
  file: string,
  at: (offset: number | undefined) => { line?: number; column?: number },
): ConfigProblem[] {
  const path = issue.path as PropertyKey[];
  if (issue.code === "unrecognized_keys") {
    const known = knownKeysAt(schema, path);
    const map = nodeAt(doc, path) as YAMLMap | undefined;
    return issue.keys.map((key) => {
      const pair = map?.items?.find((p) => isScalar(p.key) && String(p.key.value) === key);
      const hint = closest(key, known);
      const message = `unknown key "${key}"` +
        (hint
          ? ` (did you mean "${hint}"?)`
          : known.length
          ? ` (known keys: ${known.join(", ")})`
          : "");
      return {
        file,
        ...at((pair?.key as Node | undefined)?.range?.[0] ?? map?.range?.[0]),
        path: formatPath([...path, key]),
        message,
      };
    });
  }
  const node = closestNode(doc, path);
  const missing = issue.code === "invalid_type" && nodeAt(doc, path) === undefined &&
    path.length > 0;
  const message = missing ? "is required" : issue.message;
  return [{ file, ...at(node?.range?.[0]), path: formatPath(path), message }];
}

/** The node at `path`, or at the nearest ancestor that exists. */
function closestNode(doc: Document, path: readonly PropertyKey[]): Node | undefined {
  for (let n = path.length; n >= 0; n--) {
    const node = nodeAt(doc, path.slice(0, n));
    if (node) return node;
  }
  return undefined;
}

function nodeAt(doc: Document, path: readonly PropertyKey[]): Node | undefined {
  if (path.length === 0) return doc.contents ?? undefined;
  const node = doc.getIn(path as unknown[], true);
  return node && typeof node === "object" ? node as Node : undefined;
}

function sortProblems(problems: ConfigProblem[]): ConfigProblem[] {
  return problems.sort((a, b) =>
    (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0)
  );
}
