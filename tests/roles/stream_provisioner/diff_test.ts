import { assertEquals } from "../../helpers/assert.ts";
import { streamSchema } from "../../../src/roles/stream_provisioner/config.ts";
import { diffDeclared, formatChange } from "../../../src/roles/stream_provisioner/diff.ts";
import { normalStreamDecl, streamRequest } from "../../../src/roles/stream_provisioner/model.ts";

Deno.test("diff: a stream's request reads back as no change; edits show in YAML units", () => {
  const decl = streamSchema.parse({
    name: "S",
    subjects: "s.>",
    max_age: "7d",
    max_bytes: "10GiB",
  });
  // What the server would answer with for exactly what we sent.
  const echoed = streamRequest(decl);
  assertEquals(diffDeclared({ type: "stream", decl, config: echoed }), []);

  const edited = streamSchema.parse({
    name: "S",
    subjects: "s.>",
    max_age: "14d",
    max_bytes: -1,
    storage: "memory",
  });
  const changes = diffDeclared({ type: "stream", decl: edited, config: echoed });
  assertEquals(changes.map(formatChange), [
    "storage: file → memory",
    "max_age: 7d → 14d",
    "max_bytes: 10GiB → unlimited",
  ]);
  assertEquals(changes.filter((c) => c.fixed).map((c) => c.field), ["storage"]);
});

Deno.test("diff: a duplicate window longer than max_age is what the server clamps it to", () => {
  const decl = streamSchema.parse({ name: "C", subjects: "c.>", max_age: "1m" });
  assertEquals(normalStreamDecl(decl).duplicate_window, 60_000);
});

Deno.test("request: a placement carries only the declared keys (an empty tag list would be a move)", () => {
  const decl = streamSchema.parse({ name: "P", subjects: "p", placement: { cluster: "east" } });
  // What goes on the wire.
  const sent = (d: typeof decl) => JSON.parse(JSON.stringify(streamRequest(d).placement));
  assertEquals(sent(decl), { cluster: "east" });
  const tagged = streamSchema.parse({ name: "P", subjects: "p", placement: { tags: ["ssd"] } });
  assertEquals(sent(tagged), { tags: ["ssd"] });
});
