import { isWalError, WalError } from '@walnut/codec';
import { FaultyStorageIo, MemoryStorageIo } from '@walnut/storage-io';
import { expectWalError } from '@walnut/storage-io/testing';
import { describe, expect, it } from 'vitest';
import type { Durability } from './options.js';
import { Wal } from './wal.js';

const record = () => Buffer.alloc(100, 3);

async function fullDiskLog(durability: Durability) {
  const faulty = new FaultyStorageIo(new MemoryStorageIo(), { seed: 1 });
  const wal = await Wal.open('/log')
    .storageIo(faulty)
    .durability(durability)
    .segmentSize(4096)
    .retention({ maxSegments: 100 })
    .build();
  await wal.append(record());
  await wal.sync();
  faulty.inject({ kind: 'enospc', afterBytes: 0 });
  return { wal, faulty };
}

/** Each append's outcome, and whether the log said it was poisoned when it was refused. */
async function appendEach(wal: Wal, count: number) {
  const outcomes: { code: string; retryable: unknown; poisoned: boolean }[] = [];
  for (let i = 0; i < count; i++) {
    try {
      await wal.append(record());
      outcomes.push({ code: 'ok', retryable: undefined, poisoned: wal.stats().poisoned });
    } catch (error) {
      if (!(error instanceof WalError)) throw error;
      const { retryable } = error.details;
      outcomes.push({ code: error.code, retryable, poisoned: wal.stats().poisoned });
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
  return outcomes;
}

describe('a full disk', () => {
  it("under 'none' poisons the log the moment a write takes acknowledged records: no append is told to retry", async () => {
    const { wal } = await fullDiskLog('none');
    const outcomes = await appendEach(wal, 20);
    const refused = outcomes.filter((o) => o.code !== 'ok');
    expect(refused.length).toBeGreaterThan(0);
    expect(refused).toEqual(
      refused.map(() => ({ code: 'WAL_POISONED', retryable: false, poisoned: true })),
    );
    await expectWalError(wal.sync(), 'WAL_POISONED');
    await wal.close();
  });

  it('refuses truncateBefore and applyRetention on a poisoned log', async () => {
    const { wal } = await fullDiskLog('none');
    await appendEach(wal, 5);
    expect(wal.stats().poisoned).toBe(true);
    await expectWalError(wal.truncateBefore(1n), 'WAL_POISONED');
    await expectWalError(wal.applyRetention(), 'WAL_POISONED');
    await wal.close();
  });

  it("under 'sync' rejects the appends it rolled back as retryable, and takes them once space is free", async () => {
    const { wal, faulty } = await fullDiskLog('sync');
    const refused = await Promise.allSettled([wal.append(record()), wal.append(record())]);
    for (const result of refused) {
      const error = (result as PromiseRejectedResult).reason;
      expect(isWalError(error, 'WAL_NO_SPACE')).toBe(true);
      expect((error as WalError).details.retryable).toBe(true);
    }
    expect(wal.stats().poisoned).toBe(false);
    faulty.clearFaults();
    expect(await wal.append(record())).toBe(2n);
    await wal.close();
  });
});
