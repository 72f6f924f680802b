import { WalErrorCode, type WalRecordInput } from '@walnut/codec';
import { MemoryStorageIo } from '@walnut/storage-io';
import { expectWalError } from '@walnut/storage-io/testing';
import { describe, expect, it } from 'vitest';
import { collect, DIR, openMemory, testRing } from '../../test/helpers.js';
import { SegmentedWal, type SegmentedWalConfig } from '../index.js';

/** Appends 'before', runs `middle`, appends 'after', syncs, reopens: the payloads replayed. */
async function aroundAndReopened(
  config: Partial<SegmentedWalConfig>,
  middle: (wal: SegmentedWal) => void,
): Promise<string[]> {
  const io = new MemoryStorageIo();
  const wal = await openMemory(io, config);
  wal.append({ payload: Buffer.from('before') });
  middle(wal);
  wal.append({ payload: Buffer.from('after') });
  await wal.sync();
  await wal.close();
  const again = await SegmentedWal.open({ dir: DIR, io, ...config });
  const records = await collect(again.replay());
  await again.close();
  return records.map((r) => r.payload.toString('latin1'));
}

describe('maxRecordSize bounds payload and meta, never the frame a later reader accepts', () => {
  const tiny = Array.from({ length: 1000 }, () => ({ payload: Buffer.from('x') }));

  it('appends a batch whose record headers take its frame past maxRecordSize, and the log reopens whole', async () => {
    const replayed = await aroundAndReopened({ maxRecordSize: 4096 }, (wal) => {
      wal.appendBatch(tiny);
    });
    expect(replayed).toHaveLength(1002);
  });

  it('does the same for an encrypted batch', async () => {
    const config = { maxRecordSize: 4096, encryption: testRing() };
    const replayed = await aroundAndReopened(config, (wal) => {
      wal.appendBatch(tiny);
    });
    expect(replayed).toHaveLength(1002);
  });

  it('refuses a batch whose payload and meta are over maxRecordSize, and appends nothing of it', async () => {
    const big = Array.from({ length: 5 }, () => ({ payload: Buffer.alloc(1000) }));
    const replayed = await aroundAndReopened({ maxRecordSize: 4096 }, (wal) => {
      expectWalError(() => wal.appendBatch(big), WalErrorCode.RECORD_TOO_LARGE);
    });
    expect(replayed).toEqual(['before', 'after']);
  });

  it('leaves a batch whose frame fits alone', async () => {
    const config = { maxRecordSize: 4096 };
    const batch = Array.from({ length: 100 }, () => ({ payload: Buffer.alloc(40, 0x61) }));
    const replayed = await aroundAndReopened(config, (wal) => wal.appendBatch(batch));
    expect(replayed).toHaveLength(102);
  });
});

/** A record whose payload getter answers with the next of `sizes` on every read. */
function shifting(sizes: number[]): WalRecordInput {
  let reads = 0;
  return {
    get payload() {
      const size = sizes[Math.min(reads, sizes.length - 1)]!;
      reads++;
      return Buffer.alloc(size, 0x61 + reads);
    },
  };
}

describe('a record that reads differently each time while it is appended', () => {
  const patterns = [
    [10, 20],
    [20, 10],
    [10, 10, 20],
    [10, 20, 10],
    [10, 10, 5000],
  ];
  for (const sizes of patterns) {
    it(`neither poisons nor damages the log (payload sizes ${sizes.join(' → ')})`, async () => {
      let kept = 0;
      const replayed = await aroundAndReopened({ maxRecordSize: 4096 }, (wal) => {
        for (const append of [
          () => wal.append(shifting(sizes)),
          () => wal.appendBatch([{ payload: Buffer.from('b') }, shifting(sizes)]),
        ]) {
          try {
            append();
            kept++;
          } catch (error) {
            expectWalError(() => {
              throw error;
            }, WalErrorCode.BAD_ARGUMENT);
          }
        }
      });
      expect(replayed[0]).toBe('before');
      expect(replayed.at(-1)).toBe('after');
      expect(replayed).toHaveLength(2 + kept + (replayed.includes('b') ? 1 : 0));
    });
  }
});
