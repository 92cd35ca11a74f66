import { assertEquals } from "../helpers/assert.ts";
import { splitServerCredentials } from "../../src/nats/connection_options.ts";
import { redact } from "../../src/platform/redact.ts";

Deno.test("splitServerCredentials: user:pass@ and token@ leave the URLs and become credentials", () => {
  assertEquals(
    splitServerCredentials(["tls://alice:s%40cret@h1:4222", "nats://bob:other@h2:4222", "h3:4222"]),
    { servers: ["tls://h1:4222", "nats://h2:4222", "h3:4222"], user: "alice", pass: "s@cret" },
  );
  assertEquals(splitServerCredentials(["nats://tok3n-value@h1"]), {
    servers: ["nats://h1"],
    token: "tok3n-value",
  });
  assertEquals(splitServerCredentials(["nats://h1:4222"]), { servers: ["nats://h1:4222"] });
});

Deno.test("splitServerCredentials: the password and the token are redacted from then on", () => {
  splitServerCredentials(["nats://u:pw-from-url-91@h", "nats://tok-from-url-27@h"]);
  assertEquals(redact("a pw-from-url-91 b"), "a [redacted] b");
  splitServerCredentials(["nats://tok-from-url-27@h"]);
  assertEquals(redact("tok-from-url-27"), "[redacted]");
});
