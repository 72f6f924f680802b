import { MemoryStorageIo } from '@walnut/storage-io';
import { RecordingStorageIo } from '@walnut/storage-io/testing';
import { describe, expect, it } from 'vitest';
import { Wal } from './wal.js';

/** A MemoryStorageIo that holds back the completion of its `heldWrite`th write until released. */
function holdingOneWrite(heldWrite: number) {
  const io = new RecordingStorageIo(new MemoryStorageIo());
  const hold = io.hold((op) => op.kind === 'write' && op.nth === heldWrite);
  return { io, release: () => hold.release() };
}

const turns = async (n = 20) => {
  for (let i = 0; i < n; i++) await new Promise<void>((r) => setImmediate(r));
};

describe("Wal queue outside 'sync'", () => {
  it('admits waiting appends as earlier records are written, not only when a whole flush ends', async () => {
    // The 12th write (4 KiB buffers, 4 records each) stays in flight; the queue holds 64 KiB.
    const { io, release } = holdingOneWrite(12);
    const wal = await Wal.open('/log')
      .durability('none')
      .storageIo(io)
      .writeBufferSize(4096)
      .maxQueueBytes(64 * 1024)
      .build();
    const payload = Buffer.alloc(1000, 1);
    const acks: Promise<bigint>[] = [];
    for (let i = 0; i < 200; i++) acks.push(wal.append(payload));
    let acknowledged = 0;
    for (const ack of acks) void ack.then(() => acknowledged++);
    await turns();
    // A flush-at-a-time queue would stop at the first 64 KiB: the flush waits for write 12.
    // 65 records fit the queue at first. A flush-at-a-time queue stays there: the flush
    // waits for write 12. Settling as writes complete (in steps of maxQueueBytes / 8) admits
    // most of the 44 records written before it.
    expect(acknowledged).toBeGreaterThanOrEqual(65 + 30);
    expect(acknowledged).toBeLessThan(200);
    release();
    expect((await Promise.all(acks)).at(-1)).toBe(200n);
    expect(await wal.sync()).toBe(200n);
    await wal.close();
  });
});
