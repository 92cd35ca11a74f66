/** Which errors a consuming role retries through a cluster election (pure, no server). */
import { errors } from "@nats-io/nats-core";
import { JetStreamApiError } from "@nats-io/jetstream";
import { assertEquals } from "../helpers/assert.ts";
import { isTransient, leaderElectedSubject } from "../../src/nats/leader_change.ts";

const apiError = (code: number, err_code: number, description: string) =>
  new JetStreamApiError({ code, err_code, description });

Deno.test("isTransient: what an election answers is retried", () => {
  assertEquals(isTransient(new errors.TimeoutError()), true);
  assertEquals(isTransient(new errors.RequestError("x", { cause: new Error("503") })), true);
  assertEquals(isTransient(new errors.NoRespondersError("$JS.API.INFO")), true);
  assertEquals(
    isTransient(apiError(503, 10008, "JetStream system temporarily unavailable")),
    true,
  );
  assertEquals(isTransient(new Error("jetstream is not enabled")), true);
  assertEquals(isTransient(Object.assign(new Error("no responders"), { code: 503 })), true);
});

Deno.test("isTransient: configuration errors and a closed connection are not", () => {
  assertEquals(isTransient(apiError(404, 10059, "stream not found")), false);
  assertEquals(
    isTransient(apiError(400, 10065, "subjects overlap with an existing stream")),
    false,
  );
  assertEquals(isTransient(new errors.ClosedConnectionError()), false);
  assertEquals(isTransient(new errors.DrainingConnectionError()), false);
  assertEquals(isTransient(new Error("permissions violation")), false);
  assertEquals(isTransient("timeout"), false);
});

Deno.test("leaderElectedSubject names the consumer's advisory", () => {
  assertEquals(
    leaderElectedSubject("FILES", "file-monitor"),
    "$JS.EVENT.ADVISORY.CONSUMER.LEADER_ELECTED.FILES.file-monitor",
  );
});
