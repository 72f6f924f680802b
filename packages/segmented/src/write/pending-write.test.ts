import { MemoryStorageIo } from '@walnut/storage-io';
import { payloadFor } from '@walnut/storage-io/testing';
import { describe, expect, it } from 'vitest';
import { DIR } from '../../test/helpers.js';
import { SegmentedWal } from '../index.js';

const tick = () => new Promise<void>((r) => setImmediate(r));

describe('write buffers of a SegmentedWal', () => {
  it('are reused once their writes completed', async () => {
    const wal = await SegmentedWal.open({
      dir: DIR,
      io: new MemoryStorageIo(),
      writeBufferSize: 4096,
    });
    for (let i = 0; i < 400; i++) {
      wal.append({ payload: payloadFor(BigInt(i), 1000) });
      if (i % 8 === 0) await tick();
    }
    await wal.sync();
    const stats = wal.stats();
    expect(stats.writes).toBeGreaterThan(90);
    expect(stats.bufferAllocations).toBeLessThanOrEqual(4);
    await wal.close();
  });

  it('a synchronous burst reuses the buffers of the burst before it', async () => {
    const wal = await SegmentedWal.open({
      dir: DIR,
      io: new MemoryStorageIo(),
      writeBufferSize: 4096,
    });
    const burst = () => {
      for (let i = 0; i < 100; i++) wal.append({ payload: payloadFor(wal.nextLsn, 1000) });
    };
    burst();
    await wal.flush();
    const afterFirst = wal.stats().bufferAllocations;
    expect(afterFirst).toBeGreaterThan(20);
    burst();
    await wal.flush();
    expect(wal.stats().bufferAllocations).toBe(afterFirst);
    await wal.close();
  });
});
