import { assert, assertEquals, assertMatch, assertThrows } from "../helpers/assert.ts";
import { parseConfig } from "../../src/roles/checks.ts";
import { ConfigError } from "../../src/config/errors.ts";
import { formatDuration, parseDuration, parseSize } from "../../src/config/units.ts";

const noEnv = () => undefined;

function problemsOf(text: string, env: (n: string) => string | undefined = noEnv) {
  const err = assertThrows(() => parseConfig(text, "jetport.yaml", { env }), ConfigError);
  return err.problems;
}

Deno.test("three mistakes are all reported with line:column and key path", () => {
  const problems = problemsOf(`nats:
  servers: nats://127.0.0.1:4222
http:
  listn: 127.0.0.1:9464
log:
  level: verbose
shutdown:
  grace: soon
`);
  assertEquals(problems.map((p) => [p.line, p.column, p.path]), [
    [4, 3, "http.listn"],
    [6, 10, "log.level"],
    [8, 10, "shutdown.grace"],
  ]);
  assertMatch(problems[0].message, /did you mean "listen"/);
  assertMatch(problems[2].message, /not a duration/);
});

Deno.test("interpolation: ${VAR}, ${VAR:-default}, unset variable is a problem", () => {
  const env = (n: string) => ({ NATS_URL: "nats://10.0.0.1:4222" } as Record<string, string>)[n];
  const config = parseConfig(
    `nats: { servers: ["\${NATS_URL}", "\${OTHER:-nats://b:4222}"], name: "a$$b" }`,
    "x.yaml",
    { env },
  );
  assertEquals(config.nats.servers, ["nats://10.0.0.1:4222", "nats://b:4222"]);
  assertEquals(config.nats.name, "a$b");
  const problems = problemsOf(`nats:\n  token: \${NATS_TOKEN}\n`);
  assertEquals(problems.length, 1);
  assertEquals([problems[0].line, problems[0].path], [2, "nats.token"]);
  assertMatch(problems[0].message, /NATS_TOKEN is not set/);
});

Deno.test("*_file keys read secrets from files; a missing file is a problem", () => {
  const config = parseConfig(`nats: { user: bob, pass_file: /run/secret }`, "x.yaml", {
    readFile: (p) => (p === "/run/secret" ? "s3cr3t-value\n" : ""),
  });
  assertEquals(config.nats.pass, "s3cr3t-value");
  const problems = problemsOf(`nats:\n  user: bob\n  pass_file: /does/not/exist\n`);
  assertEquals(problems.map((p) => p.path), ["nats.pass_file"]);
  assertMatch(problems[0].message, /cannot read secret file/);
});

Deno.test("yaml syntax errors carry a position", () => {
  const problems = problemsOf(`nats:\n  servers: [a, b\nhttp: {}\n`);
  assert(problems.length >= 1);
  assert(problems[0].line! >= 2);
});

Deno.test("a missing required key and a wrong type are reported", () => {
  const problems = problemsOf(
    `roles:\n  watcher:\n    watches:\n      - name: a\n        recursive: maybe\n`,
  );
  const paths = problems.map((p) => p.path);
  assert(paths.includes("roles.watcher.watches[0].path"), paths.join());
  assert(paths.includes("roles.watcher.watches[0].recursive"), paths.join());
});

Deno.test("durations and sizes parse and format", () => {
  assertEquals(parseDuration("250ms"), 250);
  assertEquals(parseDuration("1h30m"), 5_400_000);
  assertEquals(parseDuration("7d"), 604_800_000);
  assertEquals(parseDuration("soon"), undefined);
  assertEquals(parseSize("512KiB"), 524_288);
  assertEquals(parseSize("10GiB"), 10 * 1024 ** 3);
  assertEquals(parseSize("12 parsecs"), undefined);
  assertEquals(formatDuration(604_800_000), "7d");
  assertEquals(formatDuration(5_400_000), "1h30m");
});

Deno.test("defaults fill an empty file", () => {
  const config = parseConfig("", "x.yaml", { env: noEnv });
  assertEquals(config.nats.servers, ["nats://127.0.0.1:4222"]);
  assertEquals(config.http.listen, { hostname: "127.0.0.1", port: 9464 });
  assertEquals(config.nats.reconnect.max_attempts, -1);
  assertEquals(config.shutdown.grace, 30_000);
});
