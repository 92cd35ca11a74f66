import { assertEquals } from "../helpers/assert.ts";
import { reloadSignal, shutdownSignals } from "../../src/platform/signals.ts";

Deno.test("shutdown signals: SIGINT+SIGTERM on Unix, SIGINT+SIGBREAK on Windows", () => {
  assertEquals(shutdownSignals("linux"), ["SIGINT", "SIGTERM"]);
  assertEquals(shutdownSignals("darwin"), ["SIGINT", "SIGTERM"]);
  assertEquals(shutdownSignals("windows"), ["SIGINT", "SIGBREAK"]);
});

Deno.test("reload signal: SIGHUP except on Windows", () => {
  assertEquals(reloadSignal("linux"), "SIGHUP");
  assertEquals(reloadSignal("windows"), undefined);
});
