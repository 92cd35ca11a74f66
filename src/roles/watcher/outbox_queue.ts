/**
 * The outbox's write queue: appended records wait here until a batch of them is written and
 * fsync'd by the segment writer, one batch at a time. Producers wait ({@link WriteQueue.room})
 * while more than one batch is queued, which bounds the memory a burst can take.
 * @module
 */
import type { OutboxRecord } from "./outbox_record.ts";
import type { Segment, SegmentWriter } from "./outbox_segments.ts";

/** What {@link createWriteQueue} needs. */
export interface WriteQueueOptions {
  /** Most records written (and fsync'd) in one batch. */
  batchSize: number;
  /** Writes the batches. */
  writer: SegmentWriter;
  /** Where record `n` will start on disk; told before it is written. */
  at(n: number, segment: Segment, offset: number): void;
  /** Records up to `n` are durable, the last ones in `segment`. */
  durable(n: number, segment: Segment): void;
  /** Whether the outbox is closed (then nobody waits for room). */
  isClosed(): boolean;
}

/** The write queue of one outbox; see the module docs. */
export interface WriteQueue {
  /** Records queued and not yet taken into a batch. */
  readonly length: number;
  /** Whether a batch is being written. */
  readonly busy: boolean;
  /** Queues `rec` and starts writing when not yet. */
  push(rec: OutboxRecord): void;
  /** Whether the queue has room now. */
  hasRoom(): boolean;
  /** Resolves when the queue has room. */
  room(): Promise<void>;
  /** Releases the producers waiting for room when there is room (or the outbox closed). */
  releaseRoom(): void;
  /** Resolves once everything queued so far is on disk. */
  flushed(): Promise<void>;
}

/** Creates an empty write queue. */
export function createWriteQueue(options: WriteQueueOptions): WriteQueue {
  const { batchSize, writer } = options;
  let queue: OutboxRecord[] = [];
  let writing: Promise<void> | undefined;
  let roomWaiters: Array<() => void> = [];

  async function writeBatches() {
    while (queue.length > 0) {
      const batch = queue.slice(0, batchSize);
      queue = queue.slice(batch.length);
      releaseRoom();
      const segment = await writer.write(batch, options.at);
      options.durable(batch[batch.length - 1].n, segment);
    }
  }

  const hasRoom = () => queue.length < batchSize || options.isClosed();

  function releaseRoom() {
    if (queue.length >= batchSize && !options.isClosed()) return;
    const waiters = roomWaiters;
    roomWaiters = [];
    waiters.forEach((r) => r());
  }

  function kick(): Promise<void> {
    if (!writing) {
      writing = writeBatches().finally(() => {
        writing = undefined;
        if (queue.length > 0) kick();
      });
    }
    return writing;
  }

  return {
    get length() {
      return queue.length;
    },
    get busy() {
      return writing !== undefined;
    },
    push(rec) {
      queue.push(rec);
      kick();
    },
    hasRoom,
    room() {
      if (hasRoom()) return Promise.resolve();
      return new Promise((r) => roomWaiters.push(r));
    },
    releaseRoom,
    async flushed() {
      while (queue.length > 0 || writing) await kick();
    },
  };
}
