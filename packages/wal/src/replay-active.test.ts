import { randomBytes } from 'node:crypto';
import { readdirSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { KeyRing, WalErrorCode } from '@walnut/codec';
import { MmapWalReader } from '@walnut/mmap-reader';
import { expectWalError, payloadFor, removeTempDirs, tempDir } from '@walnut/storage-io/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { Wal } from './wal.js';
import type { WalBuilder } from './wal-builder.js';

const root = tempDir('walnut-replay-active-');
afterAll(removeTempDirs);
let logs = 0;

const payloadOf = (i: number) => payloadFor(i, 100 + (i % 57));

const setups: [string, (builder: WalBuilder) => WalBuilder][] = [
  ['io_uring', (b) => b.storageIo('io_uring')],
  ['sync-fs', (b) => b.storageIo('sync-fs')],
  ['io_uring with direct I/O', (b) => b.storageIo('io_uring').directIo()],
  ['encrypted', (b) => b.encryption(new KeyRing({ 3: randomBytes(32) }, 3))],
];

describe.each(setups)('replay of the segment being written (%s)', (_name, setup) => {
  it('hands out exactly the records written when it started, whole, while appends go on', async () => {
    const wal = await setup(Wal.open(join(root, `log-${logs++}`)).durability('none')).build();
    try {
      const total = 40_000;
      let appended = 0;
      for (; appended < total / 2; appended++) wal.appendQueued(payloadOf(appended + 1));
      await wal.flush();
      // Writes stay in flight past this point: the replay must stop at what was written.
      for (; appended < total; appended++) {
        try {
          wal.appendQueued(payloadOf(appended + 1));
        } catch {
          break;
        }
      }
      const written = wal.stats().writtenLsn;
      const seen: bigint[] = [];
      let intact = 0;
      await wal.replay(1n, (record) => {
        seen.push(record.lsn);
        if (record.payload.equals(payloadOf(seen.length))) intact++;
      });
      expect(written).toBeGreaterThanOrEqual(BigInt(total / 2));
      expect(seen.length).toBe(Number(written));
      expect(seen[seen.length - 1]).toBe(written);
      expect(intact).toBe(seen.length);
      expect((await wal.segments()).length).toBe(1);

      await wal.flush();
      let again = 0;
      for await (const record of wal.iterator(1n)) {
        again++;
        if (!record.payload.equals(payloadOf(again))) throw new Error(`record ${again} differs`);
      }
      expect(again).toBe(appended);
    } finally {
      await wal.close();
    }
  });
});

describe('a segment cut short by another program', () => {
  it('is reported as WAL_CORRUPT by replay, never read as a shorter log', async () => {
    const dir = join(root, `log-${logs++}`);
    let wal = await Wal.open(dir)
      .segmentSize(64 * 1024)
      .durability('none')
      .build();
    for (let i = 1; i <= 2_000; i++) wal.appendQueued(payloadOf(i));
    await wal.close();
    wal = await Wal.open(dir).build();
    try {
      const first = join(dir, readdirSync(dir).filter((name) => name.endsWith('.wal'))[0]!);
      // A cut exactly at a frame boundary: the file still ends cleanly.
      const reader = MmapWalReader.open(first);
      for (let i = 0; i < 10; i++) reader.nextRecord();
      const boundary = reader.offset;
      reader.close();
      truncateSync(first, boundary);
      expect(
        await expectWalError(
          wal.replay(1n, () => undefined),
          WalErrorCode.CORRUPT,
        ),
      ).toMatchObject({ details: { segment: first, offset: boundary } });
    } finally {
      await wal.close();
    }
  });
});
