import { assertEquals, assertMatch } from "../../helpers/assert.ts";
import { jetport } from "../../helpers/jetport.ts";
import { writeConfig } from "../../helpers/config.ts";
import { configSchema } from "../../../src/roles/schemas.ts";
import { dlqAdvice } from "../../../src/roles/dlq_redriver/checks.ts";

const provisioner = {
  streams: [
    { name: "WQ", subjects: ["wq.>"], retention: "workqueue" },
    { name: "INT", subjects: ["int.>"], retention: "interest" },
    { name: "LIM", subjects: ["lim.>"] },
  ],
};

Deno.test("dlqAdvice: names each workqueue/interest source with keep_payload off, nothing else", () => {
  const config = configSchema.parse({
    roles: {
      stream_provisioner: provisioner,
      dlq_redriver: {
        sources: [
          { stream: "WQ", consumer: "a", keep_payload: "off" },
          { stream: "WQ", consumer: "b" },
          { stream: "INT", consumer: "c", keep_payload: "off" },
          { stream: "LIM", consumer: "d", keep_payload: "off" },
          { stream: "ELSEWHERE", consumer: "e", keep_payload: "off" },
        ],
      },
    },
  });
  const advice = dlqAdvice(config);
  assertEquals(advice.map((a) => a.path), [
    ["roles", "dlq_redriver", "sources", 0, "keep_payload"],
    ["roles", "dlq_redriver", "sources", 2, "keep_payload"],
  ]);
  assertMatch(advice[0].message, /stream WQ has workqueue retention: .* set keep_payload: mirror/);
  assertMatch(advice[1].message, /stream INT has interest retention/);
});

Deno.test("validate: prints the keep_payload advice as a note and still exits 0", async () => {
  const file = await writeConfig(`
roles:
  stream_provisioner:
    streams: [{ name: WQ, subjects: ["wq.>"], retention: workqueue }]
  dlq_redriver:
    sources: [{ stream: WQ, consumer: worker, keep_payload: off }]
`);
  const res = await jetport(["validate", "--config", file]);
  assertEquals(res.code, 0, res.stderr);
  assertMatch(
    res.stdout,
    /note: roles\.dlq_redriver\.sources\[0\]\.keep_payload: stream WQ has workqueue retention/,
  );
});
