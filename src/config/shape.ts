/**
 * Reads the known keys of an object schema at a key path, for "did you mean" hints.
 * @module
 */
import type { z } from "zod";

// zod v4 keeps a schema's structure in `_zod.def`; this walks the few wrapper kinds we use.
interface Def {
  type: string;
  shape?: Record<string, z.ZodType>;
  innerType?: z.ZodType;
  in?: z.ZodType;
  element?: z.ZodType;
  options?: z.ZodType[];
  valueType?: z.ZodType;
}

function def(schema: z.ZodType): Def {
  return (schema as unknown as { _zod: { def: Def } })._zod.def;
}

function unwrap(schema: z.ZodType): z.ZodType[] {
  const d = def(schema);
  if (d.innerType) return unwrap(d.innerType);
  if (d.type === "pipe" && d.in) return unwrap(d.in);
  if (d.type === "union" && d.options) return d.options.flatMap(unwrap);
  return [schema];
}

/** The keys an object schema reached by `path` accepts (empty when it is not an object). */
export function knownKeysAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  let current = unwrap(schema);
  for (const key of path) {
    const next: z.ZodType[] = [];
    for (const s of current) {
      const d = def(s);
      if (typeof key === "number" && d.type === "array" && d.element) next.push(d.element);
      if (typeof key === "string" && d.type === "object" && d.shape?.[key]) next.push(d.shape[key]);
      if (typeof key === "string" && d.type === "record" && d.valueType) next.push(d.valueType);
    }
    current = next.flatMap(unwrap);
  }
  return current.flatMap((s) => Object.keys(def(s).shape ?? {}));
}
