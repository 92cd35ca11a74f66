import { assertEquals } from "../helpers/assert.ts";
import { redact, registerSecret } from "../../src/platform/redact.ts";

Deno.test("redact: passwords and tokens inside URLs, whether registered or not", () => {
  assertEquals(
    redact("servers tls://alice:s3cret@h:4222, nats://T0KEN-123@h2:4222 and nats://h3:4222"),
    "servers tls://alice:[redacted]@h:4222, nats://[redacted]@h2:4222 and nats://h3:4222",
  );
});

Deno.test("redact: a registered secret anywhere; values under 4 characters are left alone", () => {
  registerSecret("session-tok-42");
  registerSecret("abc");
  assertEquals(redact("token=session-tok-42 abc"), "token=[redacted] abc");
});
