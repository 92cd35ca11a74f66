import { assertEquals, assertMatch, assertThrows } from "../../helpers/assert.ts";
import { jetport } from "../../helpers/jetport.ts";
import { writeConfig } from "../../helpers/config.ts";
import { configSchema } from "../../../src/roles/schemas.ts";
import { uploadAdvice } from "../../../src/roles/upload_processor/checks.ts";
import { parseConfig } from "../../../src/roles/checks.ts";
import { ConfigError } from "../../../src/config/errors.ts";

const handler = { exec: ["true"] };

function adviceFor(retry: unknown, consumers: unknown[] = []) {
  return uploadAdvice(configSchema.parse({
    roles: {
      stream_provisioner: { consumers },
      upload_processor: { handler, retry },
      dlq_redriver: {},
    },
  }));
}

Deno.test("uploadAdvice: unbounded retries on an unbounded consumer are named; any bound is quiet", () => {
  const [advice, ...more] = adviceFor({ max_deliveries: -1 });
  assertEquals(more, []);
  assertEquals(advice.path, ["roles", "upload_processor", "retry", "max_deliveries"]);
  assertMatch(
    advice.message,
    /FILE_UPLOADS\/file_processor .* never reaches the DLQ \(stream DLQ\)/,
  );
  const consumer = { stream: "FILE_UPLOADS", name: "file_processor" };
  assertEquals(adviceFor({ max_deliveries: -1 }, [consumer]).length, 1, "declared, max_deliver -1");
  assertEquals(adviceFor({ max_deliveries: -1 }, [{ ...consumer, max_deliver: 20 }]), []);
  assertEquals(adviceFor({}), [], "the default bound");
});

Deno.test("validate: prints the unbounded-retries advice as a note and still exits 0", async () => {
  const file = await writeConfig(`
roles:
  upload_processor:
    handler: { exec: ["true"] }
    retry: { max_deliveries: -1 }
`);
  const res = await jetport(["validate", "--config", file]);
  assertEquals(res.code, 0, res.stderr);
  assertMatch(res.stdout, /note: roles\.upload_processor\.retry\.max_deliveries: -1 and consumer/);
});

Deno.test("config: no handler is download only, and needs keep_files: true", () => {
  const yaml = (keep: boolean) =>
    `roles:\n  upload_processor:\n    keep_files: ${keep}\n    download_dir: /srv/in\n`;
  const config = parseConfig(yaml(true), "jetport.yaml");
  assertEquals(config.roles.upload_processor?.handler, undefined);
  const err = assertThrows(() => parseConfig(yaml(false), "jetport.yaml"), ConfigError);
  assertEquals(err.problems.map((p) => [p.path, p.line]), [["roles.upload_processor.handler", 3]]);
  assertMatch(err.problems[0].message, /required unless keep_files is true/);
});
