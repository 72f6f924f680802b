import { MemoryStorageIo } from '@walnut/storage-io';
import { describe, expect, it } from 'vitest';
import { DIR, payloadFor } from '../test/helpers.js';
import { SegmentedWal } from './index.js';
import { BufferPool, MAX_POOLED_BYTES } from './pending-write.js';

const tick = () => new Promise<void>((r) => setImmediate(r));

describe('BufferPool', () => {
  it('keeps as many idle buffers as were ever out at once', () => {
    const pool = new BufferPool(4096);
    const out = Array.from({ length: 20 }, () => pool.take());
    pool.noteOut(out.length);
    for (const buf of out) pool.give(buf);
    for (let i = 0; i < 20; i++) pool.take();
    expect(pool.allocated).toBe(20);
  });

  it('never keeps more than MAX_POOLED_BYTES of idle buffers', () => {
    const size = 8 * 1024 * 1024;
    const pool = new BufferPool(size);
    pool.noteOut(1000);
    expect(pool.keep).toBe(MAX_POOLED_BYTES / size);
  });

  it('takes back only buffers of its own size', () => {
    const pool = new BufferPool(4096);
    pool.give(Buffer.alloc(8192));
    pool.take();
    expect(pool.allocated).toBe(1);
  });
});

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
