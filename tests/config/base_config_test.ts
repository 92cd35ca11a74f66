import { assertEquals, assertMatch, assertThrows } from "../helpers/assert.ts";
import { parseConfig } from "../../src/roles/checks.ts";
import { parseConfig as parseWith } from "../../src/config/load.ts";
import { BASE_CONFIG_SPEC } from "../../src/config/base_config.ts";
import { ConfigError } from "../../src/config/errors.ts";

const noEnv = () => undefined;

/** The problems of `text` under the full load and under the base load. */
function bothProblems(text: string) {
  const full = assertThrows(() => parseConfig(text, "j.yaml", { env: noEnv }), ConfigError);
  const base = assertThrows(
    () => parseWith(BASE_CONFIG_SPEC, text, "j.yaml", { env: noEnv }),
    ConfigError,
  );
  return { full: full.problems, base: base.problems };
}

Deno.test("base config: daemon-wide problems are the full load's, with the same positions and hints", () => {
  const { full, base } = bothProblems(`nats:
  servers: nats://127.0.0.1:4222
  naem: jetport
  token: \${NATS_TOKEN}
  tls: { ca_file: /nope/ca.pem }
http:
  listen: nowhere
role: {}
`);
  assertEquals(base, full);
  assertEquals(base.map((p) => [p.line, p.path]), [
    [3, "nats.naem"],
    [4, "nats.token"],
    [7, "http.listen"],
    [8, "role"],
  ]);
  assertMatch(base[3].message, /did you mean "roles"/);
  // A missing TLS file is a whole-config check: it runs once the schema found nothing.
  const tls = bothProblems(`nats: { tls: { ca_file: /nope/ca.pem } }\n`);
  assertEquals(tls.base, tls.full);
  assertMatch(tls.base[0].message, /cannot read \/nope\/ca.pem/);
});

Deno.test("base config: roles are not checked (a watch directory of the daemon's host, a role's typo)", () => {
  const nats = `nats: { servers: "nats://10.0.0.1:4222" }\n`;
  const missingDir =
    `${nats}roles:\n  watcher:\n    watches: [{ name: a, path: /nope/not/here }]\n`;
  const typo = `${nats}roles:\n  monitr: {}\n`;
  for (
    const [text, path, message] of [
      [missingDir, "roles.watcher.watches[0].path", /directory does not exist/],
      [typo, "roles.monitr", /did you mean "monitor"/],
    ] as const
  ) {
    const full = assertThrows(() => parseConfig(text, "j.yaml", { env: noEnv }), ConfigError);
    assertEquals(full.problems.map((p) => p.path), [path]);
    assertMatch(full.problems[0].message, message);
    const config = parseWith(BASE_CONFIG_SPEC, text, "j.yaml", { env: noEnv });
    assertEquals(config.nats.servers, ["nats://10.0.0.1:4222"]);
  }
  assertEquals(parseWith(BASE_CONFIG_SPEC, "", "j.yaml").nats.name, "jetport");
});
