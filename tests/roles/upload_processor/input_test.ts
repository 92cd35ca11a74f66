import { assertEquals, assertMatch, assertThrows } from "../../helpers/assert.ts";
import { parseUploadEvent } from "../../../src/roles/upload_processor/event.ts";
import { UploadFailure } from "../../../src/roles/upload_processor/failure.ts";
import { checkKey, localPath } from "../../../src/roles/upload_processor/paths.ts";
import { uploadEvent } from "./producer.ts";

const enc = (v: unknown) => new TextEncoder().encode(typeof v === "string" ? v : JSON.stringify(v));

function reasonOf(fn: () => unknown): string {
  const err = assertThrows(fn, UploadFailure) as UploadFailure;
  assertEquals(err.kind, "permanent");
  return `${err.reason}: ${err.message}`;
}

Deno.test("parseUploadEvent: the producer's event parses; anything else is invalid_event", () => {
  const event = uploadEvent("user@example.com", "audio.mp3", "whispers-bucket-dev");
  assertEquals(parseUploadEvent(enc(event)), event);
  assertMatch(reasonOf(() => parseUploadEvent(enc("{not json"))), /^invalid_event: .*not JSON/);
  assertMatch(
    reasonOf(() => parseUploadEvent(enc({ ...event, extra: 1 }))),
    /invalid_event.*extra/,
  );
  const { email: _, ...noEmail } = event;
  assertMatch(reasonOf(() => parseUploadEvent(enc(noEmail))), /invalid_event: .*email/);
  assertMatch(
    reasonOf(() => parseUploadEvent(enc({ ...event, event_id: "42" }))),
    /invalid_event: .*event_id/,
  );
  assertMatch(
    reasonOf(() => parseUploadEvent(enc({ ...event, timestamp: "1769394113840" }))),
    /invalid_event: .*timestamp/,
  );
});

Deno.test("checkKey / localPath: nothing escapes download_dir", () => {
  checkKey("uploads/user@example.com/8af4/audio.mp3.enc", "k");
  for (const bad of ["../etc/passwd", "uploads/../../x", "/abs/key", "a//b", "a/./b", "a\\..\\b"]) {
    assertMatch(reasonOf(() => checkKey(bad, "s3_data_key")), /^unsafe_path: s3_data_key/, bad);
  }
  const uuid = crypto.randomUUID();
  assertEquals(localPath("/srv/up", uuid, "a b.mp3"), `/srv/up/${uuid}/a b.mp3`);
  for (const bad of ["..", ".", "../x", "a/b", "", "x\u0000y"]) {
    assertMatch(reasonOf(() => localPath("/srv/up", uuid, bad)), /^unsafe_path/, bad);
  }
});
