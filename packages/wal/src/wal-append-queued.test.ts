import { WalError, WalErrorCode } from '@walnut/codec';
import { expectWalError } from '@walnut/storage-io/testing';
import { describe, expect, it } from 'vitest';
import { openFakeWal } from '../test/fake-engine.js';

const payload = (i: number) => Buffer.from(`record-${i}`);
const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('Wal.appendQueued', () => {
  it('returns the LSN at once, in call order shared with append', async () => {
    const { wal, engine } = await openFakeWal({ durability: 'none' });
    const first = wal.append(payload(0));
    expect(wal.appendQueued(payload(1))).toBe(2n);
    expect(wal.appendQueued(payload(2), Buffer.from('meta'))).toBe(3n);
    expect(await first).toBe(1n);
    expect(await wal.append(payload(3))).toBe(4n);
    expect(await wal.sync()).toBe(4n);
    expect(engine.records.map((r) => r.payload.toString())).toEqual(
      [0, 1, 2, 3].map((i) => `record-${i}`),
    );
    await wal.close();
  });

  it("in 'sync' the background group commit makes queued records durable without a sync() call", async () => {
    const { wal } = await openFakeWal({ durability: 'sync' });
    const lsn = wal.appendQueued(payload(1));
    for (let i = 0; i < 10 && wal.durableLsn < lsn; i++) await tick();
    expect(wal.durableLsn).toBe(lsn);
    await wal.close();
  });

  it('throws WAL_BACKPRESSURE instead of waiting when the queue is full, and works again after sync()', async () => {
    const { wal, engine } = await openFakeWal({ durability: 'none', maxQueueBytes: 32 });
    engine.hold = true;
    wal.appendQueued(Buffer.alloc(20));
    expectWalError(() => wal.appendQueued(Buffer.alloc(20)), 'WAL_BACKPRESSURE');
    expect(wal.lastLsn).toBe(1n);
    const syncing = wal.sync();
    await tick();
    engine.release();
    await syncing;
    expect(wal.appendQueued(Buffer.alloc(20))).toBe(2n);
    await wal.close();
  });

  it('refuses bad input and a closed log with a WalError, consuming no LSN', async () => {
    const { wal } = await openFakeWal({ durability: 'none' });
    expectWalError(() => wal.appendQueued('text' as unknown as Buffer), 'WAL_BAD_ARGUMENT');
    expect(wal.appendQueued(payload(1))).toBe(1n);
    await wal.close();
    expectWalError(() => wal.appendQueued(payload(2)), 'WAL_CLOSED');
  });

  it("a disk-full rollback that loses a queued record poisons the log, even in 'sync'", async () => {
    const { wal, engine } = await openFakeWal({ durability: 'sync' });
    engine.hold = true;
    expect(wal.appendQueued(payload(1))).toBe(1n);
    await tick();
    engine.failNext = { error: new WalError(WalErrorCode.NO_SPACE, 'disk full'), rollbackTo: 1n };
    engine.release();
    await tick();
    await tick();
    expectWalError(() => wal.appendQueued(payload(2)), 'WAL_POISONED');
    await wal.close();
  });
});
