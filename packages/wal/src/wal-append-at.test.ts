import { expectWalError, removeTempDirs, tempDir } from '@walnut/storage-io/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { Batch } from './batch.js';
import { Wal } from './wal.js';

afterEach(removeTempDirs);

const batchOf = (from: number, count: number, size = 16) => {
  const batch = new Batch();
  for (let i = 0; i < count; i++) batch.add(Buffer.alloc(size, from + i));
  return batch;
};

describe('Wal.appendBatch with firstLsn', () => {
  it('appends at the expected LSN and rejects a gap or an overlap without poisoning the log', async () => {
    const dir = tempDir();
    const wal = await Wal.open(dir).storageIo('sync-fs').build();
    expect(await wal.appendBatch(batchOf(1, 3), { firstLsn: 1n })).toBe(3n);
    await expectWalError(wal.appendBatch(batchOf(5, 1), { firstLsn: 5n }), 'WAL_LSN_MISMATCH');
    await expectWalError(wal.appendBatch(batchOf(3, 1), { firstLsn: 3n }), 'WAL_LSN_MISMATCH');
    expect(await wal.appendBatch(batchOf(4, 2), { firstLsn: 4n })).toBe(5n);
    expect(await wal.append(Buffer.from('after'))).toBe(6n);
    expect(wal.stats().poisoned).toBe(false);
    await wal.shutdown();

    const reopened = await Wal.open(dir).storageIo('sync-fs').build();
    const lsns: bigint[] = [];
    await reopened.replay(1n, (r) => {
      lsns.push(r.lsn);
    });
    expect(lsns).toEqual([1n, 2n, 3n, 4n, 5n, 6n]);
    await reopened.close();
  });

  it('checks the LSN when a batch that waited for queue room is encoded', async () => {
    const wal = await Wal.open(tempDir()).storageIo('sync-fs').maxQueueBytes(64).build();
    const first = wal.appendBatch(batchOf(1, 4, 16), { firstLsn: 1n });
    // The queue is full: these two wait, and by the time they are admitted the next LSN is 5.
    const wrong = wal.appendBatch(batchOf(9, 1, 16), { firstLsn: 9n });
    const right = wal.appendBatch(batchOf(5, 1, 16), { firstLsn: 5n });
    expect(wal.stats().blockedAppends).toBe(2);
    expect(await first).toBe(4n);
    await expectWalError(wrong, 'WAL_LSN_MISMATCH');
    expect(await right).toBe(5n);
    await wal.close();
  });

  it('refuses a firstLsn that is not a bigint', async () => {
    const wal = await Wal.open(tempDir()).storageIo('sync-fs').build();
    await expectWalError(
      wal.appendBatch(batchOf(1, 1), { firstLsn: 1 as unknown as bigint }),
      'WAL_BAD_ARGUMENT',
    );
    expect(await wal.appendBatch(batchOf(1, 1), { firstLsn: 1n })).toBe(1n);
    await wal.close();
  });
});
