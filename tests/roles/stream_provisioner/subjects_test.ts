import { assertEquals } from "../../helpers/assert.ts";
import {
  subjectCovers,
  subjectMatches,
  subjectsOverlap,
} from "../../../src/roles/stream_provisioner/subjects.ts";

Deno.test("subjectsOverlap: wildcards * and > against literals and each other", () => {
  const cases: [string, string, boolean][] = [
    ["app.>", "app.dlq.>", true], // the classic main stream + DLQ clash
    ["app.>", "app", false], // > needs at least one more token
    ["file.events", "file.uploads", false],
    ["file.>", "file.uploads", true],
    ["a.*.c", "a.b.*", true],
    ["a.*", "a.b.c", false],
    ["a.*.c", "a.b.d", false],
    [">", "anything.at.all", true],
    ["*", "a.b", false],
    ["academic.course.*", "academic.exam.*", false],
    ["dlq.jelmore.>", "jelmore.>", false],
    ["notes.*", "notes.>", true],
  ];
  for (const [a, b, want] of cases) {
    assertEquals(subjectsOverlap(a, b), want, `${a} vs ${b}`);
    assertEquals(subjectsOverlap(b, a), want, `${b} vs ${a}`);
  }
});

Deno.test("subjectCovers: every subject of the inner pattern matches the outer one", () => {
  const cases: [string, string, boolean][] = [
    ["file.>", "file.events", true],
    ["file.>", "file.a.*", true],
    ["file.*", "file.a.b", false],
    ["file.*", "file.>", false],
    ["file.events", "file.*", false],
    ["a.*.c", "a.b.c", true],
    [">", "x", true],
    ["a.b", "a.b", true],
  ];
  for (const [outer, inner, want] of cases) {
    assertEquals(subjectCovers(outer, inner), want, `${outer} covers ${inner}`);
  }
  assertEquals(subjectMatches("jelmore.session.*", "jelmore.session.failed"), true);
  assertEquals(subjectMatches("jelmore.session.*", "jelmore.dlq.x"), false);
});
