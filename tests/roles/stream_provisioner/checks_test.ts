import { assertEquals, assertMatch, assertThrows } from "../../helpers/assert.ts";
import { parseConfig } from "../../../src/roles/checks.ts";
import { ConfigError } from "../../../src/config/errors.ts";

Deno.test("validate: overlapping stream subjects are reported with line, column and key path", () => {
  const yaml = `roles:
  stream_provisioner:
    streams:
      - { name: APP, subjects: ["app.>"] }
      - name: APP_DLQ
        subjects: ["app.dlq.>"]
`;
  const err = assertThrows(() => parseConfig(yaml, "j.yaml"), ConfigError);
  assertEquals(err.problems.length, 1);
  const p = err.problems[0];
  assertEquals([p.line, p.column, p.path], [
    6,
    20,
    "roles.stream_provisioner.streams[1].subjects[0]",
  ]);
  assertMatch(p.message, /"app\.dlq\.>" of stream APP_DLQ overlaps "app\.>" of stream APP/);
});

Deno.test("validate: filters outside the declared stream, duplicates; undeclared streams pass", () => {
  const yaml = `roles:
  stream_provisioner:
    streams:
      - { name: FILES, subjects: [file.events] }
      - { name: FILES, subjects: [other.events] }
    consumers:
      - { stream: FILES, name: a, filter_subject: "uploads.>" }
      - { stream: ON_SERVER_ONLY, name: b, filter_subject: "x.y" }
`;
  const err = assertThrows(() => parseConfig(yaml, "j.yaml"), ConfigError);
  assertEquals(err.problems.map((p) => p.path), [
    "roles.stream_provisioner.streams[1].name",
    "roles.stream_provisioner.consumers[0].filter_subject",
  ]);
  assertMatch(err.problems[1].message, /"uploads\.>" is outside the subjects of stream FILES/);
  assertEquals(err.problems[1].line, 7);
});
