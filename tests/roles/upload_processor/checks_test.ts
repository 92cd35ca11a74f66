import { assertEquals, assertMatch } from "../../helpers/assert.ts";
import { jetport } from "../../helpers/jetport.ts";
import { writeConfig } from "../../helpers/config.ts";
import { configSchema } from "../../../src/roles/schemas.ts";
import { uploadAdvice } from "../../../src/roles/upload_processor/checks.ts";

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
