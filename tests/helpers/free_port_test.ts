import { assertEquals } from "./assert.ts";
import { freePort } from "./nats_server.ts";

Deno.test("freePort: never hands out the same port twice in one process", () => {
  const ports = Array.from({ length: 3000 }, () => freePort());
  assertEquals(new Set(ports).size, ports.length);
});
