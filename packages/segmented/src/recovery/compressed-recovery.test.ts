import { sealFrame, WalErrorCode, zstdImplementation } from '@walnut/codec';
import { compressedLog, compressedLogRecords } from '@walnut/codec/testing';
import { MemoryStorageIo } from '@walnut/storage-io';
import { expectWalError } from '@walnut/storage-io/testing';
import { describe, expect, it } from 'vitest';
import { appendRaw, collect, DIR, openMemory } from '../../test/helpers.js';

// The golden compressed log's frames (a Wal wrote it on Node 22; FrameScanner lists them):
// LSNs 1..20 compressed at 64, 21 compressed at 518, 22 plain at 722, 23 compressed at 775,
// 24..32 compressed at 971 (body 328 bytes), a close mark at 1307; 1327 bytes in all.
const FIRST_BATCH = 64;
const LAST_BATCH = 971;
const LAST_BATCH_END = 971 + 8 + 328;

/** A MemoryStorageIo holding the golden log altered by `edit`. */
async function goldenIo(edit: (bytes: Buffer) => Buffer = (b) => b): Promise<MemoryStorageIo> {
  const io = new MemoryStorageIo();
  const { name, bytes } = compressedLog();
  await io.mkdir(DIR);
  await appendRaw(io, `${DIR}/${name}`, edit(bytes));
  return io;
}

describe(`recovery of a compressed log (decoder ${zstdImplementation().decoder})`, () => {
  it('finds the LSNs of compressed frames: reopening continues after LSN 32', async () => {
    const wal = await openMemory(await goldenIo());
    expect(wal.recoveryReport).toMatchObject({ lastLsn: 32n, records: 32, tornTail: null });
    expect(wal.append({ payload: Buffer.from('next') })).toBe(33n);
    await wal.sync();
    const lsns = (await collect(wal.replay())).map((r) => r.lsn);
    expect(lsns).toEqual([...compressedLogRecords().map((r) => r.lsn), 33n]);
    await wal.close();
  });

  it('cuts a torn compressed frame at the end, keeping every record before it', async () => {
    const io = await goldenIo((b) => b.subarray(0, LAST_BATCH + 100));
    const wal = await openMemory(io);
    expect(wal.recoveryReport.lastLsn).toBe(23n);
    expect(wal.recoveryReport.tornTail).toMatchObject({ offset: LAST_BATCH, cut: true });
    expect(wal.append({ payload: Buffer.from('next') })).toBe(24n);
    await wal.close();
  });

  it('reports a damaged compressed frame with valid frames after it as WAL_CORRUPT at its offset', async () => {
    const io = await goldenIo((b) => {
      b[FIRST_BATCH + 8 + 100] = b[FIRST_BATCH + 8 + 100]! ^ 0x10;
      return b;
    });
    const err = await expectWalError(openMemory(io), WalErrorCode.CORRUPT);
    expect(err.details.offset).toBe(FIRST_BATCH);
  });

  it('calls a compressed frame whose CRC checks but whose bytes do not decompress corrupt', async () => {
    const io = await goldenIo((b) => {
      // Garbage in the zstd bytes, then a CRC that matches them: no torn write makes this.
      b.fill(0xab, LAST_BATCH + 8 + 20, LAST_BATCH + 8 + 60);
      sealFrame(b, LAST_BATCH, LAST_BATCH_END - LAST_BATCH - 8);
      return b;
    });
    const err = await expectWalError(openMemory(io, { recovery: 'strict' }), WalErrorCode.CORRUPT);
    expect(err.message).toMatch(/decompress/);
  });

  it('names a codec it does not know: WAL_UNSUPPORTED_FORMAT, never WAL_CORRUPT', async () => {
    const io = await goldenIo((b) => {
      b[LAST_BATCH + 8 + 1] = 42;
      sealFrame(b, LAST_BATCH, LAST_BATCH_END - LAST_BATCH - 8);
      return b;
    });
    const err = await expectWalError(openMemory(io), WalErrorCode.UNSUPPORTED_FORMAT);
    expect(err.message).toContain('codec 42');
  });
});
