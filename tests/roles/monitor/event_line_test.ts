import { assertEquals, assertThrows } from "../../helpers/assert.ts";
import {
  BadFileEventError,
  decodePayloads,
  displayPath,
  formatLocalTime,
  jsonLine,
  oneLine,
  parseFileEvent,
  textLine,
} from "../../../src/roles/monitor/event_line.ts";

const enc = (v: unknown) => new TextEncoder().encode(typeof v === "string" ? v : JSON.stringify(v));
const received = new Date(2030, 0, 2, 3, 4, 5);

Deno.test("event line: the original adapter's ADDED line, with root + relative path", () => {
  const when = new Date(2025, 0, 1, 12, 0, 0); // local time, as the adapter's strftime printed
  const ev = parseFileEvent(enc({
    event_id: "e1",
    type: "file.created",
    operation: "added",
    watch: "storage",
    root: "test/storage",
    path: "a.txt",
    size: 13,
    file_size: 13 / 1024,
    timestamp: when.toISOString(),
  }));
  assertEquals(
    textLine(ev, received),
    "[2025-01-01 12:00:00] File ADDED: test/storage/a.txt, Size: 0.01 KB\n",
  );
});

Deno.test("event line: operation words per event type, from operation or from type", () => {
  const words = ["file.created", "file.modified", "file.deleted", "file.renamed"].map((type) =>
    /File (\w+):/.exec(textLine(parseFileEvent(enc({ type, path: "x" })), received))![1]
  );
  assertEquals(words, ["ADDED", "MODIFIED", "DELETED", "RENAMED"]);
  const op = parseFileEvent(enc({ operation: "deleted", path: "test/storage/a.txt" }));
  assertEquals(
    textLine(op, received),
    "[2030-01-02 03:04:05] File DELETED: test/storage/a.txt, Size: 0.00 KB\n",
  );
});

Deno.test("event line: a rename names the old path; size falls back to bytes / 1024", () => {
  const ev = parseFileEvent(enc({
    operation: "renamed",
    root: "./data/in/",
    path: "sub/b.txt",
    old_path: "a.txt",
    size: 2048,
    timestamp: received.getTime(),
  }));
  assertEquals(
    textLine(ev, new Date(0)),
    "[2030-01-02 03:04:05] File RENAMED: data/in/sub/b.txt, Size: 2.00 KB, From: data/in/a.txt\n",
  );
});

Deno.test("event line: a name with a newline, a tab or other control characters stays one line", () => {
  const ev = parseFileEvent(enc({
    operation: "renamed",
    root: "in",
    path: "two\nlines\t.txt",
    old_path: "bell\u0007\r\u2028.txt",
    size: 0,
    timestamp: received.getTime(),
  }));
  const line = textLine(ev, received);
  assertEquals(line.split("\n").length, 2, "one line and its newline");
  assertEquals(
    line,
    "[2030-01-02 03:04:05] File RENAMED: in/two\\nlines\\t.txt, Size: 0.00 KB, " +
      "From: in/bell\\u0007\\r\\u2028.txt\n",
  );
  // The name not valid UTF-8 arrives with U+FFFD in place of the bad bytes: printed as it is.
  assertEquals(oneLine("caf\ufffd.txt"), "caf\ufffd.txt");
  // JSON lines escape by themselves.
  assertEquals(
    jsonLine(ev, { stream: "FILES", seq: 1, subject: "f" }, received).split("\n").length,
    2,
  );
});

Deno.test("event line: display paths on POSIX and Windows roots", () => {
  assertEquals(displayPath("test/storage", "a/b.txt"), "test/storage/a/b.txt");
  assertEquals(displayPath("./test/storage", "a.txt"), "test/storage/a.txt");
  assertEquals(displayPath("/srv/files/", "a.txt"), "/srv/files/a.txt");
  assertEquals(displayPath(".", "a.txt"), "a.txt");
  assertEquals(displayPath(undefined, "test/storage/a.txt"), "test/storage/a.txt");
  assertEquals(displayPath("C:\\data\\in", "sub/a.txt"), "C:\\data\\in\\sub\\a.txt");
  assertEquals(
    displayPath("test/storage", "c.txt"),
    "test/storage/c.txt",
    "back to the first root",
  );
});

Deno.test("event line: events within one second and across its edges get their own times", () => {
  const at = (timestamp: string | number) =>
    /^\[([^\]]+)\]/.exec(
      textLine(parseFileEvent(enc({ operation: "added", path: "a", timestamp })), received),
    )![1];
  const base = new Date(2025, 0, 1, 12, 0, 59).getTime();
  assertEquals(at(new Date(base).toISOString()), "2025-01-01 12:00:59");
  assertEquals(at(new Date(base + 999).toISOString()), "2025-01-01 12:00:59");
  assertEquals(at(new Date(base + 1000).toISOString()), "2025-01-01 12:01:00");
  assertEquals(at(new Date(base - 1).toISOString()), "2025-01-01 12:00:58");
  assertEquals(at((base + 1500) / 1000), "2025-01-01 12:01:00", "epoch seconds with a fraction");
  assertEquals(at("not a time"), "2030-01-02 03:04:05", "no usable timestamp: the time received");
  assertEquals(at(-0.5), formatLocalTime(new Date(-500)), "before 1970, a fraction of a ms");
});

Deno.test("event line: local time formatting pads every field", () => {
  assertEquals(formatLocalTime(new Date(2025, 8, 7, 6, 5, 4)), "2025-09-07 06:05:04");
});

Deno.test("event line: JSON lines keep the event and name where it came from", () => {
  const ev = parseFileEvent(enc({ type: "file.deleted", root: "r", path: "p", extra: [1] }));
  const line = jsonLine(ev, { stream: "FILES", seq: 7, subject: "file.events" }, received);
  assertEquals(line.endsWith("\n") && line.indexOf("\n") === line.length - 1, true);
  const obj = JSON.parse(line);
  assertEquals(obj.stream, "FILES");
  assertEquals(obj.seq, 7);
  assertEquals(obj.operation, "DELETED");
  assertEquals(obj.path, "r/p");
  assertEquals(obj.event.extra, [1]);
  assertEquals(obj.logged_at, received.toISOString());
});

Deno.test("event line: unparsable payloads are rejected with a reason", () => {
  const cases: [unknown, RegExp][] = [
    ["{not json", /not valid JSON/],
    [new Uint8Array([0xff, 0xfe]), /not valid UTF-8/],
    [[1, 2], /not a JSON object/],
    ["null", /not a JSON object/],
    [{ operation: "added" }, /"path" is missing/],
    [{ path: "a", operation: 3 }, /"operation" must be a string/],
    [{ path: "a", type: "file.exploded" }, /neither "operation" nor a known "type"/],
    [{ path: "a", operation: "added", size: "big" }, /"size" must be a number/],
  ];
  for (const [payload, reason] of cases) {
    const data = payload instanceof Uint8Array ? payload : enc(payload);
    const err = assertThrows(() => parseFileEvent(data), BadFileEventError);
    assertEquals(reason.test(err.message), true, `${err.message} !~ ${reason}`);
  }
});

Deno.test("event line: a batch's payloads decoded together read as each decoded alone", () => {
  const bytes = (...parts: (string | number[])[]) =>
    new Uint8Array(parts.flatMap((p) => typeof p === "string" ? [...enc(p)] : p));
  const alone = (p: Uint8Array) => {
    try {
      return new TextDecoder("utf-8", { fatal: true }).decode(p);
    } catch {
      return p;
    }
  };
  const cases: Uint8Array[][] = [
    [enc({ path: "a" }), enc({ path: "é ✓" }), enc("")],
    [
      enc({ path: "a" }),
      bytes([0xef, 0xbb, 0xbf], '{"path":"bom","operation":"added"}'),
      enc({ path: "c" }),
    ],
    [enc({ path: "a" }), bytes('{"path":"cut', [0xc3]), enc({ path: "c" })], // invalid UTF-8
    [enc({ path: "a" }), bytes([0x80], '{"path":"b"}')], // starts mid-sequence
    [enc({ path: "a" }), bytes('{"path":"', [0], '"}'), enc({ path: "c" })], // its own NUL
    [enc({ path: "only" })],
  ];
  for (const payloads of cases) {
    const decoded = decodePayloads(payloads);
    assertEquals(decoded.length, payloads.length);
    decoded.forEach((d, i) => {
      // Text where the batch could be split, else the bytes: either parses as the bytes alone do.
      const expected = alone(payloads[i]);
      if (typeof d === "string") assertEquals(d, expected);
      else assertEquals(d, payloads[i]);
    });
  }
  const reason = (payload: string | Uint8Array) =>
    assertThrows(() => parseFileEvent(payload), BadFileEventError).message;
  assertEquals(reason(decodePayloads(cases[2])[1]), "payload is not valid UTF-8 (13 bytes)");
  assertEquals(parseFileEvent(decodePayloads(cases[1])[1]).path, "bom");
  const text = decodePayloads([enc({ path: "a" }), enc("{é")])[1];
  assertEquals(typeof text, "string");
  assertEquals(reason(text), "payload is not valid JSON (3 bytes)");
});
