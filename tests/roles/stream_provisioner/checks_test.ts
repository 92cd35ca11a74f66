import { assertEquals, assertMatch, assertThrows } from "../../helpers/assert.ts";
import { parseConfig } from "../../../src/roles/checks.ts";
import { ConfigError } from "../../../src/config/errors.ts";
import { provisionerAdvice } from "../../../src/roles/stream_provisioner/checks.ts";

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

Deno.test("validate advice: a consumer feeding the DLQ with unlimited deliveries is noted", () => {
  const config = parseConfig(
    `roles:
  stream_provisioner:
    streams: [{ name: JOBS, subjects: [jobs.>] }]
    consumers:
      - { stream: JOBS, name: forever }
      - { stream: JOBS, name: bounded, max_deliver: 5 }
      - { stream: JOBS, name: unwatched }
  dlq_redriver:
    sources:
      - { stream: JOBS, consumer: forever }
      - { stream: JOBS, consumer: bounded }
`,
    "j.yaml",
  );
  const advice = provisionerAdvice(config);
  assertEquals(advice.map((a) => a.path.join(".")), [
    "roles.stream_provisioner.consumers.0.max_deliver",
  ]);
  assertMatch(advice[0].message, /JOBS\/forever feeds the DLQ .*sources\[0\].* never reaches/);
});
