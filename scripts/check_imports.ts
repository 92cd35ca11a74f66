/**
 * The import rules the build checks (`deno task check-imports`, run by `make lint`):
 *
 * 1. The base layers (`src/config`, `src/nats`, `src/http`, `src/platform`) never depend on
 *    `src/roles`, not even through another module or for a type: loading a config or opening a
 *    connection must not pull in role code, and a role can change without touching them.
 * 2. No import cycle among the project's modules (type-only imports included): a cycle makes
 *    module order matter and hides which concept depends on which.
 *
 * The graph comes from `deno info --json`, so it is exactly what Deno resolves. Prints every
 * violation with the import chain that causes it and exits 1, or prints one "ok" line.
 * @module
 */

/** The layers that must not reach `src/roles`. */
const BASE_LAYERS = ["src/config/", "src/nats/", "src/http/", "src/platform/"];
/** What the base layers must not reach. */
const FORBIDDEN = "src/roles/";

/** One module of `deno info --json`, as far as this check reads it. */
interface InfoModule {
  specifier: string;
  dependencies?: { code?: { specifier: string }; type?: { specifier: string } }[];
}

/** Every `.ts` file under `dir`, as paths relative to the repository root. */
async function tsFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) out.push(...await tsFiles(path));
    else if (entry.isFile && entry.name.endsWith(".ts")) out.push(path);
  }
  return out.sort();
}

/**
 * The project's import graph: module path (relative to `root`) → the project modules it imports.
 * One `deno info` run over a temporary module that imports every root, so files that `main.ts`
 * does not reach are checked too.
 */
async function importGraph(root: string, roots: string[]): Promise<Map<string, string[]>> {
  const dir = await Deno.makeTempDir({ prefix: "jetport-imports-" });
  try {
    const entry = `${dir}/all.ts`;
    await Deno.writeTextFile(
      entry,
      roots.map((r) => `import "${new URL(r, `file://${root}/`).href}";\n`).join(""),
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", entry],
      cwd: root,
      stdout: "piped",
      stderr: "inherit",
    }).output();
    if (!out.success) throw new Error("deno info failed");
    const info = JSON.parse(new TextDecoder().decode(out.stdout)) as { modules: InfoModule[] };
    const prefix = `file://${root}/`;
    const local = (spec: string | undefined) =>
      spec?.startsWith(prefix) ? spec.slice(prefix.length) : undefined;
    const graph = new Map<string, string[]>();
    for (const m of info.modules) {
      const from = local(m.specifier);
      if (!from) continue;
      const deps = new Set<string>();
      for (const d of m.dependencies ?? []) {
        for (const target of [local(d.code?.specifier), local(d.type?.specifier)]) {
          if (target) deps.add(target);
        }
      }
      graph.set(from, [...deps].sort());
    }
    return graph;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** For each base-layer module that reaches `src/roles`, the shortest import chain that does. */
function layerViolations(graph: Map<string, string[]>): string[][] {
  const chains: string[][] = [];
  for (const start of graph.keys()) {
    if (!BASE_LAYERS.some((l) => start.startsWith(l))) continue;
    const parent = new Map<string, string>([[start, ""]]);
    const queue = [start];
    while (queue.length > 0) {
      const at = queue.shift()!;
      if (at.startsWith(FORBIDDEN)) {
        const chain = [at];
        for (let p = parent.get(at)!; p; p = parent.get(p)!) chain.unshift(p);
        chains.push(chain);
        break;
      }
      for (const next of graph.get(at) ?? []) {
        if (parent.has(next)) continue;
        parent.set(next, at);
        queue.push(next);
      }
    }
  }
  return chains;
}

/** The import cycles: strongly connected components (Tarjan) of more than one module, or a self-import. */
function cycles(graph: Map<string, string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  let counter = 0;
  // Iterative, so a deep import chain cannot overflow the call stack.
  for (const start of graph.keys()) {
    if (index.has(start)) continue;
    const work: { node: string; next: number }[] = [{ node: start, next: 0 }];
    index.set(start, counter);
    low.set(start, counter++);
    stack.push(start);
    onStack.add(start);
    while (work.length > 0) {
      const frame = work[work.length - 1];
      const deps = graph.get(frame.node) ?? [];
      if (frame.next < deps.length) {
        const dep = deps[frame.next++];
        if (!index.has(dep)) {
          index.set(dep, counter);
          low.set(dep, counter++);
          stack.push(dep);
          onStack.add(dep);
          work.push({ node: dep, next: 0 });
        } else if (onStack.has(dep)) {
          low.set(frame.node, Math.min(low.get(frame.node)!, index.get(dep)!));
        }
        continue;
      }
      work.pop();
      if (work.length > 0) {
        const up = work[work.length - 1].node;
        low.set(up, Math.min(low.get(up)!, low.get(frame.node)!));
      }
      if (low.get(frame.node) !== index.get(frame.node)) continue;
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== frame.node);
      const selfImport = (graph.get(frame.node) ?? []).includes(frame.node);
      if (component.length > 1 || selfImport) found.push(component.sort());
    }
  }
  return found;
}

if (import.meta.main) {
  const root = Deno.cwd();
  const roots = ["main.ts", ...await tsFiles("src"), ...await tsFiles("scripts")];
  const graph = await importGraph(root, roots);
  const layers = layerViolations(graph);
  const loops = cycles(graph);
  for (const chain of layers) {
    console.error(`import rule: ${chain[0]} reaches ${FORBIDDEN}: ${chain.join(" -> ")}`);
  }
  for (const loop of loops) console.error(`import cycle: ${loop.join(", ")}`);
  if (layers.length > 0 || loops.length > 0) {
    console.error(
      `${layers.length} layer violation(s), ${loops.length} cycle(s): ` +
        `${BASE_LAYERS.join(", ")} must not import ${FORBIDDEN}; no module may import itself ` +
        "through others",
    );
    Deno.exit(1);
  }
  console.log(`imports ok: ${graph.size} modules, no ${FORBIDDEN} in the base layers, no cycle`);
}
