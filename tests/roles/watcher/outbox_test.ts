import { assert, assertEquals } from "../../helpers/assert.ts";
import { openOutbox, type Outbox, type OutboxRecord } from "../../../src/roles/watcher/outbox.ts";
import { tempDir } from "./helpers.ts";

const SMALL = { window: 64, batch: 100, segmentBytes: 16 * 1024 };

function record(i: number) {
  return {
    subject: "file.events",
    msgId: `id-${i}`,
    data: JSON.stringify({ i, pad: "x".repeat(80) }),
  };
}

function segments(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.startsWith("seg-"));
}

Deno.test("outbox: 10k records stream through a 64-record window, in order, once each", async () => {
  const dir = await tempDir("outbox");
  const out = await openOutbox(dir, SMALL);
  let maxResident = 0;
  for (let i = 1; i <= 10_000; i++) {
    await out.room();
    out.append(record(i));
    maxResident = Math.max(maxResident, out.resident);
  }
  await out.flushed();
  assert(segments(dir).length > 10, "the records spread over many segment files");
  const got: number[] = [];
  while (got.length < 10_000) {
    const rec = (await out.next())!;
    maxResident = Math.max(maxResident, out.resident);
    got.push(JSON.parse(rec.data).i);
    out.ack(rec.n);
  }
  assertEquals(got, Array.from({ length: 10_000 }, (_, i) => i + 1));
  assertEquals(out.depth, 0);
  // The window plus at most two write batches waiting for the disk.
  assert(maxResident <= SMALL.window + 2 * SMALL.batch, `resident ${maxResident}`);
  out.retain(out.lastN());
  await out.close();
  assertEquals(segments(dir), [], "acknowledged and retained: nothing left on disk");
  const again = await openOutbox(dir, SMALL);
  assertEquals([again.depth, again.lastN()], [0, 10_000]);
  await again.close();
});

Deno.test("outbox: unacknowledged records come back after a reopen, also after a torn write", async () => {
  const dir = await tempDir("outbox");
  const out = await openOutbox(dir, SMALL);
  for (let i = 1; i <= 500; i++) out.append(record(i));
  await out.flushed();
  // Acks out of order, and a failure in the middle that rewinds.
  const first: OutboxRecord[] = [];
  for (let i = 0; i < 60; i++) first.push((await out.next())!);
  for (const rec of first.reverse()) if (rec.n !== 30) out.ack(rec.n);
  assertEquals(out.depth, 441);
  out.rewind();
  assertEquals((await out.next())!.n, 30);
  await out.close();
  // A crash in the middle of a write leaves half a line.
  const last = segments(dir).sort().at(-1)!;
  await Deno.writeTextFile(`${dir}/${last}`, '{"n":501,"subj', { append: true });

  // Only the cursor (everything below 30 acknowledged) is persisted: 31..60 are sent again, and
  // the stream's duplicate window drops them by their Nats-Msg-Id.
  const again = await openOutbox(dir, SMALL);
  assertEquals(again.depth, 471);
  again.append(record(501));
  const order: number[] = [];
  for (let i = 0; i < 472; i++) {
    const rec = (await again.next())!;
    order.push(rec.n);
    again.ack(rec.n);
  }
  assertEquals(order, Array.from({ length: 472 }, (_, i) => i + 30));
  assertEquals(JSON.parse((collect(again, 0)).at(-1)!.data).i, 501);
  await again.close();
});

Deno.test("outbox: replay streams the records above a position; retain keeps them on disk", async () => {
  const dir = await tempDir("outbox");
  const out = await openOutbox(dir, SMALL);
  for (let i = 1; i <= 1000; i++) out.append(record(i));
  for (let i = 0; i < 1000; i++) out.ack((await out.next())!.n);
  out.retain(700);
  await out.close();
  const again = await openOutbox(dir, SMALL);
  const replayed = (collect(again, 700)).map((r) => r.n);
  assertEquals(replayed, Array.from({ length: 300 }, (_, i) => i + 701));
  assertEquals(again.depth, 0);
  await again.close();
});

function collect(out: Outbox, n: number): OutboxRecord[] {
  const recs: OutboxRecord[] = [];
  out.replay(n, (r) => recs.push(r));
  return recs;
}

Deno.test("outbox: a rewind wakes a sender waiting for acks that will not come", async () => {
  const dir = await tempDir("outbox");
  const out = await openOutbox(dir, SMALL);
  for (let i = 1; i <= 3; i++) out.append(record(i));
  await out.flushed();
  for (let i = 1; i <= 3; i++) assertEquals((await out.next())!.n, i);
  // Every record is out and nothing new comes: the sender waits. All three fail (NATS down past
  // the publish deadline), so no ack will wake it; the rewind must.
  const waiting = out.next();
  out.rewind();
  assertEquals((await waiting)!.n, 1);
  await out.close();
});

Deno.test("outbox: poll hands out every ready record without waiting, then undefined", async () => {
  const dir = await tempDir("outbox");
  const out = await openOutbox(dir, SMALL);
  for (let i = 1; i <= 200; i++) out.append(record(i));
  assertEquals(out.poll(), undefined, "nothing is durable yet");
  await out.flushed();
  const got: number[] = [];
  for (let rec = out.poll(); rec; rec = out.poll()) got.push(rec.n);
  assertEquals(got, Array.from({ length: SMALL.window }, (_, i) => i + 1), "one window's worth");
  for (const n of got) out.ack(n);
  assertEquals(out.poll()!.n, SMALL.window + 1, "acks make room: the window reads on from disk");
  await out.close();
});

Deno.test("outbox: while acknowledgements come, appends wait for the window instead of spilling past it", async () => {
  const dir = await tempDir("outbox");
  const out = await openOutbox(dir, { window: 4, batch: 2 });
  let stored = 0;
  // A sender that keeps acknowledging what it is given.
  const sending = (async () => {
    while (stored < 40) {
      const rec = (await out.next())!;
      out.ack(rec.n);
      stored++;
    }
  })();
  let maxAhead = 0;
  for (let i = 1; i <= 40; i++) {
    await out.room();
    out.append(record(i));
    maxAhead = Math.max(maxAhead, out.depth);
  }
  await sending;
  // Never more waiting than the window holds (+1: the append right after the room was checked).
  assert(maxAhead <= 4 + 1, `depth ${maxAhead}`);
  await out.close();
});

Deno.test("outbox: when acknowledgements stop, appends go on to the disk", async () => {
  const dir = await tempDir("outbox");
  const out = await openOutbox(dir, { window: 4, batch: 2 });
  for (let i = 1; i <= 4; i++) out.append(record(i));
  await out.flushed();
  out.ack((await out.next())!.n); // acknowledgements came once, then stop
  for (let i = 5; i <= 6; i++) {
    await out.room(); // released once no acknowledgement came for a while
    out.append(record(i));
  }
  await out.room(); // past the window now: no wait
  out.append(record(7));
  await out.flushed();
  assertEquals(out.depth, 6);
  const got: number[] = [];
  for (let rec = out.poll(); rec; rec = out.poll()) got.push(rec.n);
  assertEquals(got, [2, 3, 4, 5]);
  await out.close();
});
