import { describe, expect, it } from 'vitest';
import { IoUringStorageIo } from '../backends/io-uring.js';
import { MemoryStorageIo } from '../backends/memory.js';
import { SyncFsStorageIo } from '../backends/sync-fs.js';
import type { QueuedOp } from '../contract/base-storage-io.js';
import { ForwardingStorageIo } from '../contract/forwarding-storage-io.js';
import type { StorageIo } from '../contract/types.js';
import { FaultyStorageIo } from '../simulation/faulty.js';
import { UnorderedStorageIo } from '../simulation/unordered.js';
import { runStorageIoConformance } from './conformance.js';
import { ioUringForTests, REQUIRE_IO_URING } from './io-uring-for-tests.js';

const durableImage = (io: StorageIo, path: string) => {
  const memory =
    io instanceof FaultyStorageIo ||
    io instanceof UnorderedStorageIo ||
    io instanceof ForwardingStorageIo
      ? io.inner
      : io;
  return memory instanceof MemoryStorageIo ? memory.durableBytes(path) : null;
};

runStorageIoConformance('memory', () => new MemoryStorageIo(), { durableImage });
runStorageIoConformance('sync-fs', () => new SyncFsStorageIo());
runStorageIoConformance('faulty(memory)', () => new FaultyStorageIo(new MemoryStorageIo()), {
  durableImage,
});
runStorageIoConformance(
  'unordered(memory)',
  () => new UnorderedStorageIo(new MemoryStorageIo(), { seed: 7 }),
  { durableImage },
);
runStorageIoConformance('faulty(sync-fs)', () => new FaultyStorageIo(new SyncFsStorageIo()));
// The base a plugin author extends must itself keep the contract, over either kind of backend.
runStorageIoConformance(
  'forwarding(memory)',
  () => new ForwardingStorageIo(new MemoryStorageIo()),
  {
    durableImage,
  },
);
runStorageIoConformance(
  'forwarding(sync-fs)',
  () => new ForwardingStorageIo(new SyncFsStorageIo()),
);

/**
 * Reads return one byte fewer than they could (the contract allows any short read; direct
 * I/O keeps whole blocks): the suite must hold a backend to the contract, not to more.
 */
class ShortReadsStorageIo extends SyncFsStorageIo {
  readonly #direct = new Set<number>();
  protected override execute(op: QueuedOp): number {
    const result = super.execute(
      op.op === 'read' && op.requested > 1 && !this.#direct.has(op.fd)
        ? { ...op, requested: op.requested - 1 }
        : op,
    );
    if (op.op === 'open' && result >= 0 && op.open!.options.direct) this.#direct.add(result);
    return result;
  }
}
runStorageIoConformance('short reads (sync-fs)', () => new ShortReadsStorageIo());

const ring = ioUringForTests();
const required = process.env[REQUIRE_IO_URING] === '1';

describe('io_uring availability', () => {
  it.runIf(required)('a ring can be created (WALNUT_REQUIRE_IO_URING=1)', () => {
    expect(ring.reason).toBe('a test ring was created and destroyed');
    expect(ring.available).toBe(true);
  });
});

runStorageIoConformance('io_uring', () => IoUringStorageIo.create({ entries: 64 }), {
  skip: ring.skip,
});
