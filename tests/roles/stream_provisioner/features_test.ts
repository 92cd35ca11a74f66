import { assertEquals } from "../../helpers/assert.ts";
import { parseConfig } from "../../../src/roles/checks.ts";
import {
  knownFields,
  unsupportedFeatures,
} from "../../../src/roles/stream_provisioner/features.ts";
import { STREAM_FIELDS_SINCE } from "../../../src/nats/version.ts";

Deno.test("features: a value newer than its field is refused with the version it needs", () => {
  const cfg = parseConfig(
    `roles:
  stream_provisioner:
    streams: [{ name: S, subjects: [s], compression: none }]
    consumers:
      - { stream: S, name: c, priority_groups: [g], priority_policy: prioritized }
`,
    "j.yaml",
  ).roles.stream_provisioner!;
  assertEquals(unsupportedFeatures(cfg, "2.11.4"), [
    "consumer S/c: priority_policy prioritized (the prioritized policy) needs nats-server " +
    "2.12.0 or newer; this server is 2.11.4. Remove priority_policy prioritized or upgrade the " +
    "server.",
  ]);
  assertEquals(unsupportedFeatures(cfg, "2.12.0"), []);
  // On 2.9 the field itself is refused, once; compression none is no feature at all.
  assertEquals(unsupportedFeatures(cfg, "2.9.10").map((p) => p.split(" (")[0]), [
    "consumer S/c: priority_groups",
    "consumer S/c: priority_policy",
  ]);
});

Deno.test("features: a request never carries a field the server does not know", () => {
  const request: Record<string, unknown> = {
    name: "S",
    compression: "none",
    allow_batched: false,
    max_msgs: 5,
  };
  assertEquals(knownFields(request, STREAM_FIELDS_SINCE, "2.9.10"), { name: "S", max_msgs: 5 });
  assertEquals(knownFields(request, STREAM_FIELDS_SINCE, "2.12.3"), {
    name: "S",
    compression: "none",
    max_msgs: 5,
  });
  assertEquals(knownFields(request, STREAM_FIELDS_SINCE, "2.15.1"), request);
});

Deno.test("features: an Object Store's compression and metadata need 2.10", () => {
  const cfg = parseConfig(
    `roles:
  stream_provisioner:
    object_stores: [{ bucket: media, compression: true, metadata: { a: b } }]
`,
    "j.yaml",
  ).roles.stream_provisioner!;
  assertEquals(unsupportedFeatures(cfg, "2.9.10").map((p) => p.split(" (")[0]), [
    "object_store media: compression",
    "object_store media: metadata",
  ]);
  assertEquals(unsupportedFeatures(cfg, "2.10.0"), []);
});
