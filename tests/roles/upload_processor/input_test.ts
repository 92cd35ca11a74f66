import { assertEquals, assertMatch, assertThrows } from "../../helpers/assert.ts";
import {
  parseUploadEvent,
  REQUIRED_EVENT_FIELDS,
} from "../../../src/roles/upload_processor/event.ts";
import { UploadFailure } from "../../../src/roles/upload_processor/failure.ts";
import { checkKey, localPath } from "../../../src/roles/upload_processor/paths.ts";
import { uploadEvent } from "./producer.ts";

const enc = (v: unknown) => new TextEncoder().encode(typeof v === "string" ? v : JSON.stringify(v));

function reasonOf(fn: () => unknown): string {
  const err = assertThrows(fn, UploadFailure) as UploadFailure;
  assertEquals(err.kind, "permanent");
  return `${err.reason}: ${err.message}`;
}

Deno.test("parseUploadEvent: the producer's event parses; a missing or malformed field is invalid_event", () => {
  const event = uploadEvent("user@example.com", "audio.mp3", "whispers-bucket-dev");
  assertEquals(parseUploadEvent(enc(event)), { event, extra: [] });
  assertMatch(reasonOf(() => parseUploadEvent(enc("{not json"))), /^invalid_event: .*not JSON/);
  for (const field of REQUIRED_EVENT_FIELDS) {
    const { [field as keyof typeof event]: _, ...without } = event;
    assertMatch(
      reasonOf(() => parseUploadEvent(enc(without))),
      new RegExp(`^invalid_event: .*${field}`),
      field,
    );
  }
  assertMatch(
    reasonOf(() => parseUploadEvent(enc({ ...event, event_id: "42" }))),
    /invalid_event: .*event_id/,
  );
  assertMatch(
    reasonOf(() => parseUploadEvent(enc({ ...event, timestamp: "1769394113840" }))),
    /invalid_event: .*timestamp/,
  );
  for (const hostile of ["../../etc", "/etc/passwd", `${event.file_uuid}/..`]) {
    assertMatch(
      reasonOf(() => parseUploadEvent(enc({ ...event, file_uuid: hostile }))),
      /^invalid_event: .*file_uuid/,
      hostile,
    );
  }
});

Deno.test("parseUploadEvent: unknown fields are kept and named; ids of any UUID variant pass", () => {
  const event = uploadEvent("user@example.com", "audio.mp3", "whispers-bucket-dev");
  const newer = { ...event, region: "eu", retention: { days: 3 } };
  assertEquals(parseUploadEvent(enc(newer)), { event: newer, extra: ["region", "retention"] });
  // Not RFC 4122 variants (the variant nibble is 0 / c), and a fractional timestamp.
  const odd = {
    ...event,
    event_id: "00000000-0000-0000-0000-000000000000",
    file_uuid: "01234567-89ab-cdef-c123-456789abcdef",
    timestamp: 1769394113840.5,
  };
  assertEquals(parseUploadEvent(enc(odd)).event, odd);
});

Deno.test("checkKey / localPath: nothing escapes download_dir", () => {
  checkKey("uploads/user@example.com/8af4/audio.mp3.enc", "k");
  for (const bad of ["../etc/passwd", "uploads/../../x", "/abs/key", "a//b", "a/./b", "a\\..\\b"]) {
    assertMatch(reasonOf(() => checkKey(bad, "s3_data_key")), /^unsafe_path: s3_data_key/, bad);
  }
  const uuid = crypto.randomUUID();
  assertEquals(localPath("/srv/up", uuid, "a b.mp3"), `/srv/up/${uuid}/a b.mp3`);
  for (const bad of ["..", ".", "../x", "a/b", "", "x\u0000y", "/etc/passwd"]) {
    assertMatch(reasonOf(() => localPath("/srv/up", uuid, bad)), /^unsafe_path/, bad);
    assertMatch(reasonOf(() => localPath("/srv/up", bad, "a.mp3")), /^unsafe_path: file_uuid/, bad);
  }
});
