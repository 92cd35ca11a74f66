import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { freePort, startNatsServer } from "../helpers/nats_server.ts";
import { writeConfig } from "../helpers/config.ts";
import { waitReady } from "../helpers/readyz.ts";
import denoJson from "../../deno.json" with { type: "json" };

const ROOT = new URL("../../", import.meta.url).pathname;
const TARGET = Deno.build.target;

/** Where `deno compile` caches the runtime it appends the program to. */
function denoDir(): string {
  return Deno.env.get("DENO_DIR") ?? `${Deno.env.get("HOME")}/.cache/deno`;
}

/** Why the compile cannot run here, or undefined when it can. */
function cannotCompile(): string | undefined {
  if (Deno.env.get("DENORT_BIN")) return undefined;
  const zip = `${denoDir()}/dl/release/v${Deno.version.deno}/denort-${TARGET}.zip`;
  try {
    Deno.statSync(zip);
    return undefined;
  } catch {
    return `no denort runtime: DENORT_BIN is unset and ${zip} is absent, and deno compile ` +
      `cannot download it without internet access (no npm package ships denort ${Deno.version.deno})`;
  }
}

/** Every source file the binary is made of. */
async function sources(dir: string, out: string[] = []): Promise<string[]> {
  for await (const e of Deno.readDir(dir)) {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory) await sources(path, out);
    else if (e.name.endsWith(".ts")) out.push(path);
  }
  return out;
}

Deno.test("build: nothing is read from next to the source at run time", async () => {
  const files = [`${ROOT}main.ts`, ...await sources(`${ROOT}src`)];
  assert(files.length > 20, "the sources were found");
  const offenders: string[] = [];
  for (const file of files) {
    const text = await Deno.readTextFile(file);
    text.split("\n").forEach((line, i) => {
      // Comments (JSDoc's {@link import("...")} included) are not run.
      if (/^\s*(\*|\/\*|\/\/)/.test(line)) return;
      // import.meta.main is fine; url/dirname/filename point into the binary's virtual tree.
      const meta = /import\.meta\.(url|dirname|filename|resolve)/.test(line);
      // A dynamic import of a string-literal relative path is bundled by deno compile like a
      // static import (the CLI's commands and the registry's roles load that way, to start
      // fast); only a computed specifier would be read from next to the source.
      const dynamic = /(^|[^.\w])import\s*\((?!"\.\.?\/[^"]+\.ts"\))/.test(line);
      if (meta || dynamic) offenders.push(`${file.slice(ROOT.length)}:${i + 1}: ${line.trim()}`);
    });
  }
  assertEquals(offenders, []);
});

Deno.test("build: the binary's permissions and V8 flags are the jetport task's, with no -A", async () => {
  const script = await Deno.readTextFile(`${ROOT}scripts/build.sh`);
  assertMatch(script, /PERMS=\$\(sed -n .*"jetport": "deno run/);
  const perms = denoJson.tasks.jetport.replace(/^deno run /, "").replace(/ main\.ts$/, "");
  assertEquals(perms.split(" ").sort(), [
    "--allow-env",
    "--allow-net",
    "--allow-read",
    "--allow-run",
    "--allow-sys",
    "--allow-write",
    "--v8-flags=--heap-growing-percent=50,--max-semi-space-size=8",
  ]);
});

/** Runs `cmd args` in the repository root; returns exit code, stdout and stderr. */
async function inRoot(cmd: string, args: string[], env: Record<string, string> = {}) {
  const out = await new Deno.Command(cmd, {
    args,
    cwd: ROOT,
    env: { DENO: Deno.execPath(), ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("build: make build names one binary per release target, Windows' with .exe", async () => {
  // What `make build` would run, without running it.
  const dry = await inRoot("make", ["-n", "build"]);
  assertEquals(dry.code, 0, dry.stderr);
  const command = dry.stdout.trim().split("\n").find((l) => l.includes("scripts/build.sh"));
  assert(command, dry.stdout);
  const targets = command.replace(/^.*scripts\/build\.sh\s+/, "").split(/\s+/);
  assertEquals(targets, [
    "x86_64-unknown-linux-gnu",
    "aarch64-unknown-linux-gnu",
    "x86_64-pc-windows-msvc",
    "x86_64-apple-darwin",
    "aarch64-apple-darwin",
  ]);

  const out = `${await Deno.makeTempDir({ prefix: "jetport-dist-" })}/dist`;
  const listed = await inRoot("bash", ["scripts/build.sh", "--list", ...targets], { OUT_DIR: out });
  assertEquals(listed.code, 0, listed.stderr);
  assertEquals(
    listed.stdout,
    [
      "x86_64-unknown-linux-gnu jetport-x86_64-unknown-linux-gnu",
      "aarch64-unknown-linux-gnu jetport-aarch64-unknown-linux-gnu",
      "x86_64-pc-windows-msvc jetport-x86_64-pc-windows-msvc.exe",
      "x86_64-apple-darwin jetport-x86_64-apple-darwin",
      "aarch64-apple-darwin jetport-aarch64-apple-darwin",
      "",
    ].join("\n"),
  );
  // Listing compiles nothing and stamps nothing.
  assertEquals(await exists(out), false);
  assertMatch(await Deno.readTextFile(`${ROOT}src/build_info.ts`), /BUILD_COMMIT: string = "dev"/);

  // No target: this machine's.
  const host = await inRoot("bash", ["scripts/build.sh", "--list"]);
  assertEquals(
    host.stdout,
    `${TARGET} jetport-${TARGET}${TARGET.includes("windows") ? ".exe" : ""}\n`,
  );
});

Deno.test("build: a target deno compile cannot build is refused before anything is compiled", async () => {
  const out = `${await Deno.makeTempDir({ prefix: "jetport-dist-" })}/dist`;
  const bad = await inRoot("bash", ["scripts/build.sh", "x86_64-pc-windows-gnu"], { OUT_DIR: out });
  assertEquals(bad.code, 2);
  assertMatch(
    bad.stderr,
    /unknown target "x86_64-pc-windows-gnu"; deno compile builds: .*x86_64-pc-windows-msvc/,
  );
  assertEquals(await exists(out), false);
});

/** Whether `path` exists. */
async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

const reason = cannotCompile();
Deno.test({
  name: `build: compiled binary runs version, validate and run${
    reason ? ` (skipped: ${reason})` : ""
  }`,
  ignore: reason !== undefined,
  async fn() {
    const out = await Deno.makeTempDir({ prefix: "jetport-dist-" });
    const build = await inRoot("bash", ["scripts/build.sh", TARGET], { OUT_DIR: out });
    assertEquals(build.code, 0, build.stderr);
    const dec = new TextDecoder();
    const bin = `${out}/jetport-${TARGET}`;
    const sums = await Deno.readTextFile(`${out}/SHA256SUMS`);
    assertMatch(sums, new RegExp(`^[0-9a-f]{64}  jetport-${TARGET}\n$`));
    // The stamp is restored after the build.
    assertMatch(
      await Deno.readTextFile(`${ROOT}src/build_info.ts`),
      /BUILD_COMMIT: string = "dev"/,
    );

    // Run from an empty directory: nothing next to the source may be needed (the watcher's code,
    // imported when the role starts, included).
    const cwd = await Deno.makeTempDir();
    const run = async (args: string[]) => {
      const o = await new Deno.Command(bin, { args, cwd, stdout: "piped", stderr: "piped" })
        .output();
      return { code: o.code, stdout: dec.decode(o.stdout), stderr: dec.decode(o.stderr) };
    };
    const commit = dec.decode(
      (await new Deno.Command("git", {
        args: ["rev-parse", "--short", "HEAD"],
        cwd: ROOT,
        stdout: "piped",
      }).output()).stdout,
    ).trim();
    const version = await run(["version"]);
    assertEquals(version.code, 0, version.stderr);
    assertMatch(version.stdout, new RegExp(`^jetport ${denoJson.version} \\(commit ${commit}`));

    await using nats = await startNatsServer();
    const httpPort = freePort();
    const config = await writeConfig(`
nats: { servers: "${nats.url}" }
http: { listen: "127.0.0.1:${httpPort}" }
state_dir: ${cwd}/state
roles: { watcher: { watches: [{ name: empty, path: ${cwd}/watched }] } }
`);
    await Deno.mkdir(`${cwd}/watched`);
    const valid = await run(["validate", "--config", config]);
    assertEquals(valid.code, 0, valid.stderr);

    const child = new Deno.Command(bin, {
      args: ["run", "--config", config],
      cwd,
      stdout: "null",
      stderr: "piped",
    }).spawn();
    await waitReady(httpPort, 20_000, "compiled daemon ready");
    child.kill("SIGTERM");
    const status = await child.output();
    assertEquals(status.code, 0, dec.decode(status.stderr));
    await Deno.remove(out, { recursive: true });
  },
});
