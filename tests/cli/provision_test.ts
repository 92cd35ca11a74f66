/**
 * `jetport provision plan|apply|verify` against a real server, as a user runs it.
 */
import { assert, assertEquals, assertMatch, assertStringIncludes } from "../helpers/assert.ts";
import { type NatsServer, startNatsServer } from "../helpers/nats_server.ts";
import { jetport } from "../helpers/jetport.ts";
import { writeConfig } from "../helpers/config.ts";
import { connect } from "@nats-io/transport-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { supports } from "../../src/nats/version.ts";
import type { ProvisionReport } from "../../src/cli/commands/provision.ts";
import type { JsonError } from "../../src/cli/json.ts";

function provisioner(nats: NatsServer, body: string): Promise<string> {
  return writeConfig(`nats: { servers: "${nats.url}" }
roles:
  stream_provisioner:
${body.replace(/^/gm, "    ")}
`);
}

async function withJs<T>(nats: NatsServer, fn: (nc: NatsConnection) => Promise<T>): Promise<T> {
  const nc = await connect({ servers: nats.url });
  try {
    return await fn(nc);
  } finally {
    await nc.close();
  }
}

const provision = (mode: string, file: string, ...extra: string[]) =>
  jetport(["provision", mode, "--config", file, ...extra]);

Deno.test("provision: max_age 7d → 14d shows in plan (exit 3) and applies in place", async () => {
  await using nats = await startNatsServer();
  const body = (age: string) =>
    `streams:
  - { name: ORDERS, subjects: ["orders.>"], max_age: ${age} }
consumers:
  - { stream: ORDERS, name: shipper, ack_policy: explicit }`;
  const first = await provisioner(nats, body("7d"));
  const created = await provision("apply", first);
  assertEquals(created.code, 0, created.stdout + created.stderr);
  assertStringIncludes(created.stdout, "stream ORDERS: created");
  assertStringIncludes(created.stdout, "consumer ORDERS/shipper: created");
  await withJs(nats, (nc) => jetstream(nc).publish("orders.1", "x"));

  const second = await provisioner(nats, body("14d"));
  const plan = await provision("plan", second);
  assertEquals(plan.code, 3, plan.stdout + plan.stderr);
  assertStringIncludes(plan.stdout, "update max_age: 7d → 14d");
  assertStringIncludes(plan.stdout, "consumer ORDERS/shipper: unchanged");
  assertEquals((await provision("verify", second)).code, 3);

  const apply = await provision("apply", second);
  assertEquals(apply.code, 0, apply.stdout + apply.stderr);
  assertStringIncludes(apply.stdout, "stream ORDERS: updated (max_age: 7d → 14d)");
  const info = await withJs(
    nats,
    async (nc) => (await jetstreamManager(nc)).streams.info("ORDERS"),
  );
  assertEquals(info.config.max_age, 14 * 86_400 * 1e9);
  assertEquals(info.state.messages, 1, "an in-place update keeps the messages");
  const verify = await provision("verify", second);
  assertEquals(verify.code, 0, verify.stdout);
  assertEquals((await provision("plan", second)).code, 0);
});

Deno.test("provision: storage file → memory is refused and the messages stay; --allow-destructive recreates", async () => {
  await using nats = await startNatsServer();
  const file = await provisioner(
    nats,
    `streams: [{ name: KEEP, subjects: [keep.it], storage: file }]`,
  );
  assertEquals((await provision("apply", file)).code, 0);
  await withJs(nats, async (nc) => {
    const js = jetstream(nc);
    for (let i = 0; i < 5; i++) await js.publish("keep.it", `m${i}`);
  });

  const memory = await provisioner(
    nats,
    `streams: [{ name: KEEP, subjects: [keep.it], storage: memory }]`,
  );
  const plan = await provision("plan", memory);
  assertEquals(plan.code, 3);
  assertMatch(
    plan.stdout,
    /stream KEEP: DESTRUCTIVE \(recreating stream KEEP deletes its 5 stored message/,
  );
  assertStringIncludes(plan.stdout, "destructive storage: file → memory");

  const refused = await provision("apply", memory);
  assertEquals(refused.code, 3, refused.stdout + refused.stderr);
  assertStringIncludes(
    refused.stdout,
    "stream KEEP: REFUSED destructive change (storage: file → memory: the storage type",
  );
  const kept = await withJs(nats, async (nc) => (await jetstreamManager(nc)).streams.info("KEEP"));
  assertEquals([kept.config.storage, kept.state.messages], ["file", 5]);

  const forced = await provision("apply", memory, "--allow-destructive");
  assertEquals(forced.code, 0, forced.stdout + forced.stderr);
  assertStringIncludes(
    forced.stdout,
    "stream KEEP: RECREATING (recreating stream KEEP deletes its 5",
  );
  const now = await withJs(nats, async (nc) => (await jetstreamManager(nc)).streams.info("KEEP"));
  assertEquals([now.config.storage, now.state.messages], ["memory", 0]);
});

Deno.test("provision: overlapping subjects give one error before anything is created", async () => {
  await using nats = await startNatsServer();
  const file = await provisioner(
    nats,
    `streams:
  - { name: APP, subjects: ["app.>"] }
  - { name: APP_DLQ, subjects: ["app.dlq.>"] }`,
  );
  for (const mode of ["plan", "apply"]) {
    const out = await provision(mode, file);
    assertEquals(out.code, 2, out.stdout + out.stderr);
    const problems = out.stderr.split("\n").filter((l) => l.includes("overlaps"));
    assertEquals(problems.length, 1, out.stderr);
    assertMatch(
      problems[0],
      /jetport\.yaml:\d+:\d+: roles\.stream_provisioner\.streams\[1\]\.subjects\[0\]/,
    );
  }
  const names = await withJs(nats, async (nc) => {
    const out: string[] = [];
    for await (const n of (await jetstreamManager(nc)).streams.names()) out.push(n);
    return out;
  });
  assertEquals(names, []);
});

Deno.test("provision: a 2.10-only field is one clear error on 2.9, and kept by 2.10", async () => {
  await using nats = await startNatsServer();
  const file = await provisioner(
    nats,
    `streams:
  - { name: TAGGED, subjects: [tagged.>], metadata: { owner: team-a } }`,
  );
  const out = await provision("apply", file);
  if (!supports(nats.version, "metadata")) {
    assertEquals(out.code, 2, out.stdout + out.stderr);
    const lines = out.stderr.trim().split("\n");
    assertEquals(lines.length, 2, out.stderr); // the headline and the one problem
    assertStringIncludes(
      lines[1],
      `stream TAGGED: metadata (stream metadata) needs nats-server 2.10.0 or newer; this server is ${nats.version}`,
    );
    const count = await withJs(nats, async (nc) => {
      let n = 0;
      for await (const _ of (await jetstreamManager(nc)).streams.names()) n++;
      return n;
    });
    assertEquals(count, 0, "nothing was created");
  } else {
    assertEquals(out.code, 0, out.stdout + out.stderr);
    const info = await withJs(
      nats,
      async (nc) => (await jetstreamManager(nc)).streams.info("TAGGED"),
    );
    assertEquals(info.config.metadata?.owner, "team-a");
    assertEquals((await provision("verify", file)).code, 0);
  }
});

Deno.test("provision: consumer changes: in place, ack policy refused, push↔pull refused", async () => {
  await using nats = await startNatsServer();
  const body = (extra: string) =>
    `streams: [{ name: JOBS, subjects: [jobs.>] }]
consumers:
  - { stream: JOBS, name: worker, ${extra} }`;
  assertEquals(
    (await provision("apply", await provisioner(nats, body("max_ack_pending: 100")))).code,
    0,
  );

  const more = await provision(
    "apply",
    await provisioner(nats, body("max_ack_pending: 200, max_deliver: 5")),
  );
  assertEquals(more.code, 0, more.stdout + more.stderr);
  assertStringIncludes(
    more.stdout,
    "consumer JOBS/worker: updated (max_deliver: unlimited → 5, max_ack_pending: 100 → 200)",
  );

  const ackAll = await provision(
    "plan",
    await provisioner(nats, body("max_ack_pending: 200, max_deliver: 5, ack_policy: all")),
  );
  assertEquals(ackAll.code, 3);
  assertStringIncludes(
    ackAll.stdout,
    "destructive ack_policy: explicit → all (the ack policy of a consumer cannot change in place)",
  );

  const push = await provision(
    "apply",
    await provisioner(
      nats,
      body("max_ack_pending: 200, max_deliver: 5, deliver_subject: out.worker"),
    ),
  );
  assertEquals(push.code, 3);
  assertStringIncludes(push.stdout, "a consumer cannot switch between push and pull in place");
});

Deno.test("provision: removing a subject that holds messages is destructive; unmanaged objects are left alone", async () => {
  await using nats = await startNatsServer();
  const both = await provisioner(nats, `streams: [{ name: MIX, subjects: [a.one, b.two] }]`);
  assertEquals((await provision("apply", both)).code, 0);
  await withJs(nats, async (nc) => {
    const js = jetstream(nc);
    await js.publish("b.two", "stored");
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: OTHER, subjects: ["other.>"] });
    await jsm.consumers.add("MIX", { durable_name: "hand-made" });
  });
  const onlyA = await provisioner(nats, `streams: [{ name: MIX, subjects: [a.one] }]`);
  const plan = await provision("plan", onlyA);
  assertEquals(plan.code, 3);
  assertStringIncludes(
    plan.stdout,
    "destructive subjects: [a.one, b.two] → [a.one] (removing b.two orphans 1 stored message(s)",
  );
  assertStringIncludes(
    plan.stdout,
    "unmanaged stream OTHER: on the server, not declared; left alone",
  );
  assertStringIncludes(plan.stdout, "unmanaged consumer MIX/hand-made");
  const refused = await provision("apply", onlyA);
  assertEquals(refused.code, 3);

  // Widening the subjects keeps every stored message reachable: a plain update.
  const wider = await provisioner(nats, `streams: [{ name: MIX, subjects: ["a.one", "b.>"] }]`);
  const apply = await provision("apply", wider);
  assertEquals(apply.code, 0, apply.stdout + apply.stderr);
  assertStringIncludes(
    apply.stdout,
    "stream MIX: updated (subjects: [a.one, b.two] → [a.one, b.>])",
  );

  // Allowed, the removal is an in-place update (no recreate): the message stays, orphaned.
  const forced = await provision("apply", onlyA, "--allow-destructive");
  assertEquals(forced.code, 0, forced.stdout + forced.stderr);
  assertStringIncludes(
    forced.stdout,
    "stream MIX: updated with loss (subjects: [a.one, b.>] → [a.one])",
  );
  const mix = await withJs(nats, async (nc) => (await jetstreamManager(nc)).streams.info("MIX"));
  assertEquals([mix.config.subjects, mix.state.messages], [["a.one"], 1]);
  await withJs(nats, async (nc) => {
    const jsm = await jetstreamManager(nc);
    assert(await jsm.streams.info(OTHER), "the unmanaged stream is still there");
    assertEquals((await jsm.consumers.info("MIX", "hand-made")).name, "hand-made");
  });
});

const OTHER = "OTHER";

Deno.test("provision: a consumer on a stream neither declared nor on the server is an error; on the server it is fine", async () => {
  await using nats = await startNatsServer();
  const file = await provisioner(
    nats,
    `consumers: [{ stream: EXTERNAL, name: reader, filter_subject: ext.a }]`,
  );
  const missing = await provision("apply", file);
  assertEquals(missing.code, 2);
  assertStringIncludes(
    missing.stderr,
    "consumer EXTERNAL/reader: stream EXTERNAL is neither declared",
  );
  await withJs(nats, async (nc) => {
    await (await jetstreamManager(nc)).streams.add({ name: "EXTERNAL", subjects: ["ext.>"] });
  });
  const ok = await provision("apply", file);
  assertEquals(ok.code, 0, ok.stdout + ok.stderr);
  assertStringIncludes(ok.stdout, "consumer EXTERNAL/reader: created");
  assertStringIncludes(ok.stdout, "unmanaged stream EXTERNAL");

  const outside = await provision(
    "plan",
    await provisioner(
      nats,
      `consumers: [{ stream: EXTERNAL, name: reader2, filter_subject: "int.>" }]`,
    ),
  );
  assertEquals(outside.code, 2);
  assertStringIncludes(
    outside.stderr,
    `filter subject "int.>" is outside the subjects of stream EXTERNAL`,
  );
});

Deno.test("provision: bad usage exits 2 with help", async () => {
  const file = await writeConfig(`roles: { stream_provisioner: {} }`);
  const out = await jetport(["provision", "explode", "--config", file]);
  assertEquals(out.code, 2);
  assertStringIncludes(out.stderr, "expected one of plan, apply, verify");
});

Deno.test("provision: KV buckets are created, updated in place (ttl, history) and re-applied with no change", async () => {
  await using nats = await startNatsServer();
  const kv = (ttl: string, history: number) =>
    provisioner(nats, `kv: [{ bucket: jetport_processed, ttl: ${ttl}, history: ${history} }]`);
  const created = await provision("apply", await kv("7d", 1));
  assertEquals(created.code, 0, created.stdout + created.stderr);
  assertStringIncludes(created.stdout, "kv jetport_processed: created");
  const same = await provision("apply", await kv("7d", 1));
  assertStringIncludes(same.stdout, "(no changes)");

  const changed = await kv("14d", 5);
  const plan = await provision("plan", changed);
  assertEquals(plan.code, 3);
  assertStringIncludes(plan.stdout, "update ttl: 7d → 14d");
  assertStringIncludes(plan.stdout, "update history: 1 → 5");
  const apply = await provision("apply", changed);
  assertEquals(apply.code, 0, apply.stdout + apply.stderr);
  const info = await withJs(
    nats,
    async (nc) => (await jetstreamManager(nc)).streams.info("KV_jetport_processed"),
  );
  assertEquals([info.config.max_age, info.config.max_msgs_per_subject], [14 * 86_400 * 1e9, 5]);
  assertEquals((await provision("verify", changed)).code, 0);
});

Deno.test("provision --json: plan, apply and verify print one JSON report with each change", async () => {
  await using nats = await startNatsServer();
  const body = (age: string) =>
    provisioner(nats, `streams:\n  - { name: ORDERS, subjects: ["orders.>"], max_age: ${age} }`);
  const first = await body("7d");
  const created = await provision("apply", first, "--json");
  assertEquals(created.code, 0, created.stdout + created.stderr);
  const applied = JSON.parse(created.stdout) as ProvisionReport;
  assertEquals([applied.mode, applied.in_sync, applied.items[0].action], ["apply", true, "create"]);
  assertEquals(applied.applied?.created, 1);
  assertStringIncludes(created.stderr, "stream ORDERS: created"); // progress for people

  const second = await body("14d");
  const plan = await provision("plan", second, "--json");
  assertEquals(plan.code, 3, plan.stdout + plan.stderr);
  const report = JSON.parse(plan.stdout) as ProvisionReport;
  assertEquals(report.server_version, nats.version);
  assertEquals(report.in_sync, false);
  assertEquals(report.applied, null);
  assertEquals(report.items, [{
    type: "stream",
    id: "ORDERS",
    action: "update",
    changes: [{ field: "max_age", from: "7d", to: "14d", destructive: null, irreversible: null }],
    loss: null,
  }]);
  const verify = await provision("verify", second, "--json");
  assertEquals(verify.code, 3);
  assertEquals((JSON.parse(verify.stdout) as ProvisionReport).items[0].action, "update");

  // A refusal before any change is the error document, each problem naming its object.
  const refused = await provision(
    "plan",
    await provisioner(nats, `streams:\n  - { name: S, subjects: [s], replicas: 3 }`),
    "--json",
  );
  assertEquals(refused.code, 2, refused.stdout + refused.stderr);
  const error = JSON.parse(refused.stdout) as JsonError;
  assertEquals(error.error.code, "CONFIG_INVALID");
  assertStringIncludes(error.error.problems![0].message, "stream S: replicas 3 needs a JetStream");
});

Deno.test("provision: a flag of another mode is a usage error, not ignored", async () => {
  await using nats = await startNatsServer();
  const file = await provisioner(nats, `streams:\n  - { name: S, subjects: [s] }`);
  const plan = await provision("plan", file, "--all");
  assertEquals(plan.code, 2, plan.stdout + plan.stderr);
  assertStringIncludes(plan.stderr, "--all does not apply to provision plan");
  const exported = await provision("export", file, "--allow-destructive");
  assertEquals(exported.code, 2, exported.stdout + exported.stderr);
  assertStringIncludes(exported.stderr, "--allow-destructive does not apply to provision export");
});
