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
