import { assert, assertEquals, assertRejects, assertThrows } from "../../helpers/assert.ts";
import {
  decryptStream,
  decryptWhole,
  MasterKeyError,
  parseMasterKey,
  unwrapDataKey,
} from "../../../src/roles/upload_processor/envelope.ts";
import { UploadFailure } from "../../../src/roles/upload_processor/failure.ts";
import { b64, newMasterKey, seal } from "./producer.ts";

/** Streams `data` through decryption in chunks of `size` bytes. */
async function decrypt(dek: Uint8Array, data: Uint8Array, size: number): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < data.length; i += size) chunks.push(data.slice(i, i + size));
  const out = ReadableStream.from(chunks).pipeThrough(decryptStream(dek));
  return new Uint8Array(await new Response(out).arrayBuffer());
}

/** Objects that must fail as `decrypt_failed` with `dek`: what is wrong, key, bytes. */
async function badObjects(dek: Uint8Array) {
  const sealed = await seal(dek, crypto.getRandomValues(new Uint8Array(5000)));
  const flipped = sealed.slice();
  flipped[100] ^= 1;
  return [
    ["tampered", dek, flipped],
    ["truncated", dek, sealed.slice(0, -1)],
    ["too short", dek, sealed.slice(0, 20)],
    ["wrong key", newMasterKey(), sealed],
  ] as const;
}

Deno.test("decryptStream: the producer's objects decrypt byte for byte, whatever the chunking", async () => {
  const dek = newMasterKey();
  for (const length of [0, 1, 15, 16, 17, 4096, 100_003]) {
    const plain = crypto.getRandomValues(new Uint8Array(Math.min(length, 65536)));
    const sealed = await seal(dek, plain);
    for (const size of [1, 5, 12, 16, 28, 1000, 1 << 20]) {
      assertEquals(await decrypt(dek, sealed, size), plain, `length ${length}, chunk ${size}`);
    }
  }
});

Deno.test("decryptStream: a flipped bit, a cut tail or a wrong key fail as decrypt_failed", async () => {
  const dek = newMasterKey();
  for (const [what, key, data] of await badObjects(dek)) {
    const err = await assertRejects(() => decrypt(key, data, 777), UploadFailure);
    assertEquals((err as UploadFailure).reason, "decrypt_failed", what);
    assertEquals((err as UploadFailure).kind, "permanent", what);
  }
});

Deno.test("decryptWhole: small objects decrypt in memory byte for byte; a flipped bit, a cut tail or a wrong key fail as decrypt_failed", async () => {
  const dek = newMasterKey();
  for (const length of [0, 1, 16, 1024, 65536]) {
    const plain = crypto.getRandomValues(new Uint8Array(length));
    assertEquals(decryptWhole(dek, await seal(dek, plain)), plain, `length ${length}`);
  }
  for (const [what, key, data] of await badObjects(dek)) {
    const err = assertThrows(() => decryptWhole(key, data), UploadFailure);
    assertEquals((err as UploadFailure).reason, "decrypt_failed", what);
    assertEquals((err as UploadFailure).kind, "permanent", what);
  }
});

Deno.test("unwrapDataKey: right master key gives the DEK; a wrong one is permanent", async () => {
  const master = newMasterKey();
  const dek = newMasterKey();
  const kek = b64(await seal(master, dek));
  assertEquals(unwrapDataKey(kek, master), dek);
  const err = assertThrows(() => unwrapDataKey(kek, newMasterKey()), UploadFailure);
  assertEquals((err as UploadFailure).reason, "decrypt_failed");
  assertThrows(() => unwrapDataKey("not base64!", master), UploadFailure);
});

Deno.test("parseMasterKey: 32 raw bytes or base64 of 32 bytes; anything else is a config error", () => {
  const key = newMasterKey();
  assertEquals(parseMasterKey(key, "file"), key);
  assertEquals(parseMasterKey(new TextEncoder().encode(b64(key) + "\n"), "file"), key);
  let threw = false;
  try {
    parseMasterKey(new TextEncoder().encode(b64(key.subarray(0, 16))), "env X");
  } catch (err) {
    threw = err instanceof MasterKeyError && /env X/.test(err.message);
  }
  assert(threw, "a 16-byte key is refused, naming where it came from");
});

Deno.test("decryptStream: a transfer that breaks off frees its cipher (no leaked resource)", async () => {
  let sent = false;
  const broken = new ReadableStream<Uint8Array>({
    pull(ctl) {
      if (sent) return ctl.error(new Error("connection reset"));
      sent = true;
      ctl.enqueue(new Uint8Array(100));
    },
  });
  const out = broken.pipeThrough(decryptStream(newMasterKey()));
  const err = await assertRejects(() => new Response(out).arrayBuffer(), Error);
  assertEquals(err.message, "connection reset");
});
