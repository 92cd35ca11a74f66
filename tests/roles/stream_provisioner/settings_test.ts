/**
 * The settings nats-server 2.10-2.14 added, declared and applied through `jetport provision` on a
 * real server: on the newest server each one lands, re-applies with no change and verifies clean;
 * on 2.9 the plan refuses every one of them, naming the field and the version it needs, and
 * creates nothing.
 */
import { assert, assertEquals, assertStringIncludes } from "../../helpers/assert.ts";
import { startNatsServer } from "../../helpers/nats_server.ts";
import { jetport } from "../../helpers/jetport.ts";
import { writeConfig } from "../../helpers/config.ts";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { versionAtLeast } from "../../../src/nats/version.ts";

const provision = (mode: string, file: string, ...extra: string[]) =>
  jetport(["provision", mode, "--config", file, ...extra]);

const PAUSE = "2099-01-01T00:00:00.000Z";

/** Every new setting once: per-message TTL, counters, schedules, batches, topology, priority. */
function declarations(url: string, ttl = true) {
  return writeConfig(`nats: { servers: "${url}" }
roles:
  stream_provisioner:
    streams:
      - name: ORDERS
        subjects: ["orders.>"]
        metadata: { owner: team-a }
        allow_msg_ttl: ${ttl}
        ${ttl ? "subject_delete_marker_ttl: 5m" : ""}
        allow_rollup_hdrs: true
        allow_msg_schedules: true
        allow_atomic: true
        allow_batched: true
        subject_transform: { src: "orders.>", dest: "orders.v1.>" }
        republish: { src: "orders.>", dest: "copy.orders.>", headers_only: true }
      - { name: COUNTS, subjects: ["counts.>"], allow_msg_counter: true }
      - { name: ORDERS_COPY, mirror: { name: ORDERS, filter_subject: "orders.v1.eu.>" } }
      - name: ALL
        sources:
          - name: ORDERS
            subject_transforms: [{ src: "orders.v1.>", dest: "all.orders.>" }]
          - { name: REMOTE, domain: hub }
    consumers:
      - stream: ORDERS
        name: workers
        priority_groups: [jobs]
        priority_policy: pinned_client
        priority_timeout: 30s
        pause_until: "${PAUSE}"
      - { stream: ORDERS, name: fallback, priority_groups: [a, b], priority_policy: prioritized }
`);
}

Deno.test("provision: the 2.10-2.14 settings apply, re-apply with no change, verify clean (or are refused on old servers)", async () => {
  await using nats = await startNatsServer();
  const file = await declarations(nats.url);
  const out = await provision("apply", file);
  if (!versionAtLeast(nats.version, "2.14.0")) {
    assertEquals(out.code, 2, out.stdout + out.stderr);
    for (
      const line of [
        "stream ORDERS: metadata (stream metadata) needs nats-server 2.10.0 or newer",
        "stream ORDERS: allow_msg_ttl (per-message TTL) needs nats-server 2.11.0 or newer",
        "stream ORDERS: subject_delete_marker_ttl (subject delete markers) needs nats-server 2.11.0",
        "stream ORDERS: allow_atomic (atomic batch publish) needs nats-server 2.12.0 or newer",
        "stream ORDERS: allow_msg_schedules (message schedules) needs nats-server 2.12.0 or newer",
        "stream ORDERS: allow_batched (fast batch publish) needs nats-server 2.14.0 or newer",
        "stream ORDERS: subject_transform (a subject transform on the stream) needs nats-server 2.10.0",
        "stream COUNTS: allow_msg_counter (counter streams) needs nats-server 2.12.0 or newer",
        "stream ALL: sources.subject_transforms (subject transforms of a source) needs nats-server 2.10.0",
        "consumer ORDERS/workers: priority_groups (priority groups) needs nats-server 2.11.0",
        "consumer ORDERS/workers: pause_until (consumer pause) needs nats-server 2.11.0 or newer",
      ].filter((l) => !versionAtLeast(nats.version, /(2\.\d+\.0)/.exec(l)![1]))
    ) assertStringIncludes(out.stderr, line);
    assertStringIncludes(out.stderr, `this server is ${nats.version}`);
    const nc = await connect({ servers: nats.url });
    try {
      const jsm = await jetstreamManager(nc);
      let n = 0;
      for await (const _ of jsm.streams.names()) n++;
      assertEquals(n, 0, "nothing was created");
    } finally {
      await nc.close();
    }
    return;
  }
  assertEquals(out.code, 0, out.stdout + out.stderr);
  const again = await provision("plan", file);
  assertEquals(again.code, 0, again.stdout + again.stderr);
  assertStringIncludes(again.stdout, "Plan: 0 to create, 0 to update, 0 destructive, 6 unchanged");
  const verify = await provision("verify", file);
  assertEquals(verify.code, 0, verify.stdout + verify.stderr);
  // Exported back as declarations, every setting plans as no change.
  const exported = await jetport(["provision", "export", "--config", file, "--all"]);
  assertEquals(exported.code, 0, exported.stderr);
  const copy = await Deno.makeTempFile({ suffix: ".yaml" });
  try {
    await Deno.writeTextFile(copy, exported.stdout);
    const replan = await provision("plan", copy);
    assertEquals(replan.code, 0, exported.stdout + replan.stdout + replan.stderr);
    assertStringIncludes(replan.stdout, "0 to update, 0 destructive, 6 unchanged, 0 unmanaged");
  } finally {
    await Deno.remove(copy);
  }

  const nc = await connect({ servers: nats.url });
  try {
    const jsm = await jetstreamManager(nc);
    const orders = (await jsm.streams.info("ORDERS")).config;
    assertEquals(
      [orders.allow_msg_ttl, orders.allow_msg_schedules, orders.allow_atomic, orders.allow_batched],
      [true, true, true, true],
    );
    assertEquals(orders.subject_delete_marker_ttl, 300_000_000_000);
    assertEquals(orders.subject_transform?.dest, "orders.v1.>");
    assertEquals(orders.republish?.dest, "copy.orders.>");
    assertEquals(orders.metadata?.owner, "team-a");
    assert((await jsm.streams.info("COUNTS")).config.allow_msg_counter);
    assertEquals((await jsm.streams.info("ORDERS_COPY")).config.mirror?.name, "ORDERS");
    const sources = (await jsm.streams.info("ALL")).config.sources ?? [];
    assertEquals(sources.map((s) => s.name).sort(), ["ORDERS", "REMOTE"]);
    assertEquals(sources.find((s) => s.name === "REMOTE")?.external?.api, "$JS.hub.API");
    const workers = (await jsm.consumers.info("ORDERS", "workers")).config;
    assertEquals([workers.priority_policy, workers.priority_groups], ["pinned_client", ["jobs"]]);
    assertEquals(new Date(workers.pause_until!).toISOString(), PAUSE);
    assertEquals(
      (await jsm.consumers.info("ORDERS", "fallback")).config.priority_policy,
      "prioritized",
    );
  } finally {
    await nc.close();
  }

  // Per-message TTL cannot be turned off in place: destructive, refused without the flag.
  const off = await provision("plan", await declarations(nats.url, false));
  assertEquals(off.code, 3, off.stdout + off.stderr);
  assertStringIncludes(
    off.stdout,
    "destructive allow_msg_ttl: true → false (per-message TTL cannot be turned off again once on)",
  );
});

Deno.test("provision: turning per-message TTL on is shown as irreversible", async () => {
  await using nats = await startNatsServer();
  if (!versionAtLeast(nats.version, "2.11.0")) return; // refused on older servers (above)
  const body = (ttl: boolean) =>
    writeConfig(`nats: { servers: "${nats.url}" }
roles:
  stream_provisioner:
    streams:
      - { name: EVENTS, subjects: [events.>], allow_msg_ttl: ${ttl} }
`);
  assertEquals((await provision("apply", await body(false))).code, 0);
  const plan = await provision("plan", await body(true));
  assertEquals(plan.code, 3, plan.stdout + plan.stderr);
  assertStringIncludes(
    plan.stdout,
    "update allow_msg_ttl: false → true (IRREVERSIBLE: per-message TTL cannot be turned off again once on)",
  );
  const apply = await provision("apply", await body(true));
  assertEquals(apply.code, 0, apply.stdout + apply.stderr);
});
