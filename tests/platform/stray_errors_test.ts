import { assertEquals, assertMatch, waitFor } from "../helpers/assert.ts";
import type { Logger } from "@logtape/logtape";
import { keepRunningOnStrayErrors } from "../../src/platform/stray_errors.ts";

Deno.test("an uncaught error and an unhandled rejection are logged, not fatal", async () => {
  const logged: string[] = [];
  const log = {
    error: (msg: string, props: { error: string }) =>
      logged.push(msg.replace("{error}", props.error)),
  } as unknown as Logger;
  const remove = keepRunningOnStrayErrors(log);
  try {
    setTimeout(() => {
      throw new Error("write EBADF");
    }, 0);
    Promise.reject(new Error("nobody awaited this"));
    await waitFor(() => logged.length === 2, 5000, "both errors logged");
  } finally {
    remove();
  }
  assertEquals(logged.length, 2);
  assertMatch(logged.join("\n"), /uncaught error \(daemon keeps running\): write EBADF/);
  assertMatch(
    logged.join("\n"),
    /unhandled rejection \(daemon keeps running\): nobody awaited this/,
  );
});
