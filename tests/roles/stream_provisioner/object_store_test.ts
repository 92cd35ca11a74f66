/**
 * Object Store buckets declared under `object_stores:` through `jetport provision`, on a real
 * server: created with the Object Store layout, planned as unchanged on re-apply, verified,
 * changed in place, a storage change refused as destructive, and exported back unchanged.
 */
import { assertEquals, assertStringIncludes } from "../../helpers/assert.ts";
import { startNatsServer } from "../../helpers/nats_server.ts";
import { jetport } from "../../helpers/jetport.ts";
import { writeConfig } from "../../helpers/config.ts";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { versionAtLeast } from "../../../src/nats/version.ts";

const provision = (mode: string, file: string, ...extra: string[]) =>
  jetport(["provision", mode, "--config", file, ...extra]);

Deno.test("provision: an Object Store bucket is created, re-planned unchanged, updated, exported", async () => {
  await using nats = await startNatsServer();
  // metadata and compression are 2.10 features: refused on 2.9 (features_test), left out there.
  const extras = versionAtLeast(nats.version, "2.10.0")
    ? ", compression: true, metadata: { owner: media }"
    : "";
  const bucket = (ttl: string, storage = "file") =>
    writeConfig(`nats: { servers: "${nats.url}" }
roles:
  stream_provisioner:
    object_stores:
      - { bucket: media, ttl: ${ttl}, max_bytes: 1GiB, storage: ${storage}${extras} }
`);
  const first = await bucket("7d");
  const created = await provision("apply", first);
  assertEquals(created.code, 0, created.stdout + created.stderr);
  assertStringIncludes(created.stdout, "object_store media: created");
  const nc = await connect({ servers: nats.url });
  try {
    const c = (await (await jetstreamManager(nc)).streams.info("OBJ_media")).config;
    assertEquals(c.subjects, ["$O.media.C.>", "$O.media.M.>"]);
    assertEquals([c.discard, c.allow_rollup_hdrs, c.allow_direct], ["new", true, true]);
    assertEquals([c.max_age, c.max_bytes], [7 * 86_400_000_000_000, 1024 ** 3]);
  } finally {
    await nc.close();
  }
  const again = await provision("plan", first);
  assertEquals(again.code, 0, again.stdout + again.stderr);
  assertStringIncludes(again.stdout, "object_store media: unchanged");
  assertEquals((await provision("verify", first)).code, 0);

  const longer = await provision("apply", await bucket("14d"));
  assertEquals(longer.code, 0, longer.stdout + longer.stderr);
  assertStringIncludes(longer.stdout, "object_store media: updated (ttl: 7d → 14d)");

  const memory = await provision("apply", await bucket("14d", "memory"));
  assertEquals(memory.code, 3, memory.stdout + memory.stderr);
  assertStringIncludes(memory.stdout, "object_store media: REFUSED destructive change (storage");

  const exported = await jetport(["provision", "export", "--config", first, "--all"]);
  assertEquals(exported.code, 0, exported.stderr);
  assertStringIncludes(exported.stdout, "object_stores:");
  const copy = await Deno.makeTempFile({ suffix: ".yaml" });
  try {
    await Deno.writeTextFile(copy, exported.stdout);
    const plan = await provision("plan", copy);
    assertEquals(plan.code, 0, exported.stdout + plan.stdout);
    assertStringIncludes(plan.stdout, "1 unchanged, 0 unmanaged");
  } finally {
    await Deno.remove(copy);
  }
});
