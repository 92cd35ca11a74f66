/**
 * Groups an async iterable into batches of whatever has arrived, so a slow step per batch (write
 * and flush a file) serves everything that queued up behind it. The source is read ahead by at
 * most two batches; the nats.js iterator's own `getPending()` cannot be used for this (it counts
 * queued control entries too, so it does not reach 0 while messages wait).
 * @module
 */

/**
 * Yields arrays of 1..`max` items: every item that is available when the previous batch has been
 * handled (up to `max`). Ends when the source ends; rethrows the source's error after the items
 * that came before it.
 */
export async function* batches<T>(source: AsyncIterable<T>, max: number): AsyncGenerator<T[]> {
  const queue: T[] = [];
  let done = false;
  let failure: { error: unknown } | undefined;
  let wake: (() => void) | undefined;
  let room: (() => void) | undefined;

  (async () => {
    try {
      for await (const item of source) {
        queue.push(item);
        wake?.();
        while (queue.length >= 2 * max) await new Promise<void>((r) => (room = r));
      }
    } catch (error) {
      failure = { error };
    } finally {
      done = true;
      wake?.();
    }
  })();

  while (true) {
    if (queue.length === 0) {
      if (done) {
        if (failure) throw failure.error;
        return;
      }
      await new Promise<void>((r) => (wake = r));
      wake = undefined;
      continue;
    }
    const batch = queue.splice(0, max);
    room?.();
    room = undefined;
    yield batch;
  }
}
