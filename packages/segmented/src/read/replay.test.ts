import { READ_SLICE_MS } from '@walnut/codec';
import { MemoryStorageIo } from '@walnut/storage-io';
import { payloadFor } from '@walnut/storage-io/testing';
import { describe, expect, it } from 'vitest';
import { openMemory } from '../../test/helpers.js';

/** Busy for `ms` of wall time, as a consumer that applies each record synchronously is. */
function work(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

describe('a replay over records that never wait for I/O', () => {
  // MemoryStorageIo completes every read in a microtask: only the replay's own turns let a
  // timer run before it ends.
  it('lets the event loop turn while its consumer works, every slice or so', async () => {
    const wal = await openMemory(new MemoryStorageIo());
    for (let i = 0; i < 500; i++) wal.append({ payload: payloadFor(i, 100) });
    await wal.sync();
    const perRecord = 0.2;
    let handedOut = 0;
    const turns: number[] = [];
    const tick = () => {
      turns.push(handedOut);
      if (handedOut < 500) setTimeout(tick, 0);
    };
    for await (const _ of wal.replayFrom(1n)) {
      if (handedOut++ === 0) setTimeout(tick, 0);
      work(perRecord);
    }
    // 100 ms of work: a turn at least every few slices, the first well before the end.
    expect(turns.length).toBeGreaterThanOrEqual(2);
    expect(turns[0]).toBeLessThan((3 * READ_SLICE_MS) / perRecord);
    await wal.close();
  });
});
