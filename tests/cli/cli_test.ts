import { assertEquals, assertMatch, assertStringIncludes } from "../helpers/assert.ts";
import { jetport } from "../helpers/jetport.ts";
import { writeConfig } from "../helpers/config.ts";

Deno.test("validate lists every problem with line:column and key path, exit 2", async () => {
  const file = await writeConfig(`nats:
  servers: nats://127.0.0.1:4222
  naem: jetport
http:
  listen: "nowhere"
log:
  level: loud
`);
  const { code, stderr } = await jetport(["validate", "--config", file]);
  assertEquals(code, 2);
  assertMatch(stderr, /3 problems/);
  assertStringIncludes(stderr, `${file}:3:3: nats.naem: unknown key "naem" (did you mean "name"?)`);
  assertStringIncludes(stderr, `${file}:5:11: http.listen:`);
  assertStringIncludes(stderr, `${file}:7:10: log.level:`);
});

Deno.test("validate exits 0 on the shipped example config", async () => {
  await Deno.mkdir("test/storage", { recursive: true }); // the example's watch root, as make run does
  const { code, stdout } = await jetport(["validate", "--config", "config/jetport.example.yaml"]);
  assertEquals(code, 0);
  assertMatch(stdout, /ok/);
});

Deno.test("validate: a missing file is exit 2 with a clear message", async () => {
  const { code, stderr } = await jetport(["validate", "--config", "/nope/jetport.yaml"]);
  assertEquals(code, 2);
  assertStringIncludes(stderr, "/nope/jetport.yaml: (file): cannot read config: file not found");
});

Deno.test("every command has --help; unknown commands and flags are usage errors", async () => {
  const top = await jetport(["--help"]);
  assertEquals(top.code, 0);
  for (
    const name of [
      "run",
      "validate",
      "provision",
      "status",
      "dlq",
      "publish",
      "replay",
      "service",
      "version",
    ]
  ) {
    assertMatch(top.stdout, new RegExp(`^  ${name} `, "m"));
    const help = await jetport([name, "--help"]);
    assertEquals(help.code, 0, `${name} --help`);
    assertMatch(help.stdout, /^Usage: jetport /m);
  }
  const unknown = await jetport(["rn"]);
  assertEquals(unknown.code, 2);
  assertStringIncludes(unknown.stderr, `did you mean "run"`);
  const badFlag = await jetport(["validate", "--confg", "x"]);
  assertEquals(badFlag.code, 2);
  assertStringIncludes(badFlag.stderr, "did you mean --config");
});

Deno.test("version prints version and commit", async () => {
  const { code, stdout } = await jetport(["version"]);
  assertEquals(code, 0);
  assertMatch(stdout, /^jetport \d+\.\d+\.\d+ \(commit \S+, deno /);
});

Deno.test("-c is --config: validate -c reads that file, run -c never falls back to ./jetport.yaml", async () => {
  const ok = await jetport(["validate", "-c", "config/jetport.example.yaml"]);
  assertEquals(ok.code, 0, ok.stderr);
  assertStringIncludes(ok.stdout, "config/jetport.example.yaml: ok");
  const run = await jetport(["run", "-c", "/nope/prod.yaml"]);
  assertEquals(run.code, 2);
  assertStringIncludes(run.stderr, "/nope/prod.yaml: (file): cannot read config: file not found");
});

Deno.test("stray positionals and misspelled flags are usage errors naming them", async () => {
  const stray = await jetport(["validate", "stray-arg", "--config", "x.yaml"]);
  assertEquals(stray.code, 2);
  assertStringIncludes(stray.stderr, `unexpected argument "stray-arg"`);
  const file = await jetport(["validate", "prod.yaml"]);
  assertEquals(file.code, 2);
  assertStringIncludes(file.stderr, "did you mean --config prod.yaml?");
  const typo = await jetport(["status", "--confg", "x.yaml"]);
  assertEquals(typo.code, 2);
  assertStringIncludes(typo.stderr, "unknown flag --confg (did you mean --config?)");
  const short = await jetport(["status", "-x"]);
  assertEquals(short.code, 2);
  assertStringIncludes(short.stderr, "unknown flag -x");
  const single = await jetport(["validate", "-config", "x.yaml"]);
  assertEquals(single.code, 2);
  assertStringIncludes(single.stderr, "unknown flag -config (did you mean --config?)");
  const sub = await jetport(["provision", "plna", "-c", "x.yaml"]);
  assertEquals(sub.code, 2);
  assertStringIncludes(sub.stderr, `unknown mode "plna" (did you mean "plan"?)`);
  const extra = await jetport(["dlq", "list", "extra", "-c", "x.yaml"]);
  assertEquals(extra.code, 2);
  assertStringIncludes(extra.stderr, `unexpected argument "extra"`);
});

Deno.test("-h is --help on every command, -V and --version print the version", async () => {
  const help = await jetport(["validate", "-h"]);
  assertEquals(help.code, 0);
  assertMatch(help.stdout, /^Usage: jetport validate/m);
  for (const flag of ["-V", "--version"]) {
    const v = await jetport([flag]);
    assertEquals(v.code, 0, flag);
    assertMatch(v.stdout, /^jetport \d+\.\d+\.\d+ \(commit /);
  }
});

Deno.test("version --json is one JSON document with version, commit and runtime", async () => {
  const { code, stdout } = await jetport(["version", "--json"]);
  assertEquals(code, 0);
  const v = JSON.parse(stdout);
  assertMatch(v.version, /^\d+\.\d+\.\d+/);
  assertEquals(typeof v.commit, "string");
  assertEquals(v.deno, Deno.version.deno);
  assertEquals(v.target, Deno.build.target);
  assertEquals(JSON.parse((await jetport(["-V", "--json"])).stdout), v);
});

Deno.test("validate --json: a valid file reports its roles, an invalid one every problem", async () => {
  const ok = await jetport(["validate", "--json", "-c", "config/jetport.example.yaml"]);
  assertEquals(ok.code, 0, ok.stderr);
  const report = JSON.parse(ok.stdout);
  assertEquals(report.valid, true);
  assertEquals(report.file, "config/jetport.example.yaml");
  assertEquals(report.problems, []);
  assertEquals(Array.isArray(report.roles) && report.roles.length > 0, true);
  const file = await writeConfig(`nats:
  servers: nats://127.0.0.1:4222
  naem: jetport
log:
  level: loud
`);
  const bad = await jetport(["validate", "--json", "--config", file]);
  assertEquals(bad.code, 2);
  const invalid = JSON.parse(bad.stdout);
  assertEquals(invalid.valid, false);
  assertEquals(invalid.problems[0], {
    file,
    line: 3,
    column: 3,
    path: "nats.naem",
    message: `unknown key "naem" (did you mean "name"?)`,
  });
  assertEquals(invalid.problems[1].path, "log.level");
  const missing = JSON.parse((await jetport(["validate", "--json", "-c", "/nope.yaml"])).stdout);
  assertEquals(missing.problems[0].line, null);
});

Deno.test("--json failures: stdout carries an error document with a stable code", async () => {
  const usage = await jetport(["status", "--json", "--confg", "x.yaml"]);
  assertEquals(usage.code, 2);
  assertEquals(JSON.parse(usage.stdout).error.code, "USAGE");
  const config = await jetport(["status", "--json", "-c", "/nope.yaml"]);
  assertEquals(config.code, 2);
  const doc = JSON.parse(config.stdout);
  assertEquals(doc.error.code, "CONFIG_INVALID");
  assertEquals(doc.error.problems[0].file, "/nope.yaml");
  assertStringIncludes(config.stderr, "cannot read config");
});
