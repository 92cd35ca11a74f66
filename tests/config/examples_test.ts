/**
 * Every file in config/examples/ validates, applies to an empty server, verifies clean, and a
 * second apply changes nothing. Examples that need a newer server than the one under test must
 * stop with one clear error before creating anything.
 */
import { assertEquals, assertMatch, assertStringIncludes } from "../helpers/assert.ts";
import { startNatsServer } from "../helpers/nats_server.ts";
import { jetport } from "../helpers/jetport.ts";
import { loadConfig } from "../../src/roles/checks.ts";
import { unsupportedFeatures } from "../../src/roles/stream_provisioner/features.ts";
import { connect } from "@nats-io/transport-node";
import { type JetStreamManager, jetstreamManager } from "@nats-io/jetstream";

const DIR = new URL("../../config/examples/", import.meta.url).pathname;
const examples = [...Deno.readDirSync(DIR)].map((e) => e.name).filter((n) => n.endsWith(".yaml"))
  .sort();

Deno.test("examples: one file per system jetport replaces", () => {
  assertEquals(examples, [
    "agentic-platform.yaml",
    "file-events-adapter.yaml",
    "jelmore.yaml",
    "upload-service.yaml",
    "vertector.yaml",
  ]);
});

const DAY = 86_400_000_000_000; // ns
/** What each system's documents say, checked on the server after apply (nanoseconds). */
const EXPECTED: Record<string, (jsm: JetStreamManager) => Promise<void>> = {
  "agentic-platform.yaml": async (jsm) => {
    const got: Record<string, [string, number]> = {};
    for await (const s of jsm.streams.list()) {
      got[s.config.name] = [s.config.retention, s.config.max_age];
    }
    assertEquals(got, {
      WORKFLOWS: ["workqueue", 7 * DAY],
      EVENTS: ["limits", 30 * DAY],
      LOGS: ["limits", 14 * DAY],
      COMMANDS: ["workqueue", DAY / 24],
      TELEMETRY: ["limits", 7 * DAY],
      NOTIFICATIONS: ["interest", DAY],
    });
    let consumers = 0;
    for (const s of Object.keys(got)) for await (const _ of jsm.consumers.list(s)) consumers++;
    assertEquals(consumers, 7);
  },
  "upload-service.yaml": async (jsm) => {
    const c = (await jsm.consumers.info("FILE_UPLOADS", "file_processor")).config;
    assertEquals(
      [c.ack_policy, c.deliver_policy, c.max_deliver, c.max_ack_pending, c.deliver_subject],
      ["explicit", "all", -1, 100, undefined],
    );
    assertEquals((await jsm.streams.info("FILE_UPLOADS")).config.max_age, 7 * DAY);
  },
  "jelmore.yaml": async (jsm) => {
    const s = (await jsm.streams.info("JELMORE")).config;
    assertEquals(
      [s.max_age, s.max_msgs, s.max_bytes, s.duplicate_window],
      [7 * DAY, 100_000, 10 * 1024 ** 3, 60_000_000_000],
    );
    assertEquals((await jsm.streams.info("JELMORE_DLQ")).config.max_age, 30 * DAY);
  },
};

async function streamNames(url: string): Promise<string[]> {
  const nc = await connect({ servers: url });
  try {
    const jsm = await jetstreamManager(nc);
    const names: string[] = [];
    for await (const n of jsm.streams.names()) names.push(n);
    return names.sort();
  } finally {
    await nc.close();
  }
}

for (const name of examples) {
  Deno.test(`examples: ${name} applies to an empty server, verifies, re-applies with no change`, async () => {
    await using nats = await startNatsServer();
    const env = { NATS_URL: nats.url };
    const file = DIR + name;
    const validate = await jetport(["validate", "--config", file], { env });
    assertEquals(validate.code, 0, validate.stderr);

    const cfg = (await loadConfig(file, { env: (k) => (k === "NATS_URL" ? nats.url : undefined) }))
      .roles.stream_provisioner!;
    const apply = await jetport(["provision", "apply", "--config", file], { env });
    if (unsupportedFeatures(cfg, nats.version).length > 0) {
      // e.g. filter_subjects on 2.9: one clear error, nothing created.
      assertEquals(apply.code, 2, apply.stdout + apply.stderr);
      assertMatch(
        apply.stderr,
        /(consumer|stream) \S+: (filter_subjects|metadata) .* needs nats-server 2\.10\.0/,
      );
      assertEquals(await streamNames(nats.url), []);
      return;
    }
    assertEquals(apply.code, 0, apply.stdout + apply.stderr);
    assertStringIncludes(apply.stdout, `${cfg.streams.length + cfg.consumers.length} created`);
    assertEquals(await streamNames(nats.url), cfg.streams.map((s) => s.name).sort());
    const nc = await connect({ servers: nats.url });
    try {
      await EXPECTED[name]?.(await jetstreamManager(nc));
    } finally {
      await nc.close();
    }

    const verify = await jetport(["provision", "verify", "--config", file], { env });
    assertEquals(verify.code, 0, verify.stdout + verify.stderr);
    assertStringIncludes(verify.stdout, "verify: OK");

    const again = await jetport(["provision", "apply", "--config", file], { env });
    assertEquals(again.code, 0, again.stdout + again.stderr);
    assertMatch(
      again.stdout,
      /Apply: 0 created, 0 updated, 0 recreated, 0 refused, \d+ unchanged \(no changes\)\./,
    );

    // What exists, exported as declarations, plans as no change.
    const exported = await jetport(["provision", "export", "--config", file, "--all"], { env });
    assertEquals(exported.code, 0, exported.stdout + exported.stderr);
    const copy = await Deno.makeTempFile({ suffix: ".yaml" });
    try {
      await Deno.writeTextFile(copy, exported.stdout);
      const plan = await jetport(["provision", "plan", "--config", copy], { env });
      assertEquals(plan.code, 0, exported.stdout + plan.stdout + plan.stderr);
      const objects = cfg.streams.length + cfg.consumers.length + cfg.kv.length;
      assertStringIncludes(
        plan.stdout,
        `Plan: 0 to create, 0 to update, 0 destructive, ${objects} unchanged, 0 unmanaged`,
      );
    } finally {
      await Deno.remove(copy);
    }
  });
}
