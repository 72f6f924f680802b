import { randomBytes } from 'node:crypto';
import { MIN_COMPRESSED_BODY, WalErrorCode, zstdImplementation } from '@walnut/codec';
import { compressedLogEvent as event } from '@walnut/codec/testing';
import { MemoryStorageIo } from '@walnut/storage-io';
import { expectWalError } from '@walnut/storage-io/testing';
import { describe, expect, it } from 'vitest';
import { collect, openMemory, testRing } from '../test/helpers.js';

// Writing zstd needs node:zlib's (Node 22.15 on); Node 20 reads compressed logs through
// fzstd (decision 0117) and runs the reading tests on the golden log below.
const canWrite = zstdImplementation().encoder !== null;
const WRITE_SKIP = `writing zstd needs Node 22.15 or later (this is Node ${process.versions.node})`;

describe.skipIf(!canWrite)(`compression: 'zstd' (${canWrite ? 'Node' : WRITE_SKIP})`, () => {
  it('writes batches and long records compressed, flags the segment, and replays them', async () => {
    const io = new MemoryStorageIo();
    const wal = await openMemory(io, { compression: 'zstd' });
    wal.appendBatch(Array.from({ length: 20 }, (_, i) => ({ payload: event(i) })));
    wal.append({ payload: event(20), meta: Buffer.from('m') });
    wal.appendPayload(event(21));
    wal.appendPayloads([event(22), Buffer.from('short')]);
    await wal.sync();
    const [seg] = await wal.listSegments();
    expect(seg!.compressed).toBe(true);
    const plainBytes = Array.from({ length: 23 }, (_, i) => event(i).length).reduce(
      (a, b) => a + b,
    );
    expect(io.fileBytes(seg!.path)!.length).toBeLessThan(plainBytes / 2);
    const recs = await collect(wal.replay());
    expect(recs.map((r) => r.lsn)).toEqual(Array.from({ length: 24 }, (_, i) => BigInt(i + 1)));
    expect(recs.slice(0, 23).map((r) => r.payload.toString())).toEqual(
      Array.from({ length: 23 }, (_, i) => event(i).toString()),
    );
    expect(recs[20]!.meta?.toString()).toBe('m');
    expect(recs[23]!.payload.toString()).toBe('short');
    await wal.close();
  });

  it('recovers a compressed log: reopening finds every LSN and appends after them', async () => {
    const io = new MemoryStorageIo();
    const wal = await openMemory(io, { compression: { codec: 'zstd', level: 9 } });
    for (let b = 0; b < 5; b++)
      wal.appendBatch(Array.from({ length: 10 }, (_, i) => ({ payload: event(b * 10 + i) })));
    await wal.sync();
    await wal.close();
    const again = await openMemory(io, { compression: 'zstd' });
    expect(again.append({ payload: event(50) })).toBe(51n);
    await again.sync();
    expect((await again.listSegments()).length).toBe(1);
    const lsns = (await collect(again.replay())).map((r) => r.lsn);
    expect(lsns).toEqual(Array.from({ length: 51 }, (_, i) => BigInt(i + 1)));
    await again.close();
  });

  it('starts a flagged segment rather than append compressed frames to an unflagged one', async () => {
    const io = new MemoryStorageIo();
    const plain = await openMemory(io);
    plain.append({ payload: event(0) });
    await plain.sync();
    await plain.close();
    const wal = await openMemory(io, { compression: 'zstd' });
    wal.append({ payload: event(1) });
    await wal.sync();
    expect((await wal.listSegments()).map((s) => s.compressed)).toEqual([false, true]);
    expect((await collect(wal.replay())).map((r) => r.payload.toString())).toEqual([
      event(0).toString(),
      event(1).toString(),
    ]);
    await wal.close();
  });

  it('writes a body that does not shrink as it is', async () => {
    const io = new MemoryStorageIo();
    const wal = await openMemory(io, { compression: 'zstd' });
    const noise = randomBytes(4096);
    wal.append({ payload: noise });
    await wal.sync();
    const [seg] = await wal.listSegments();
    expect(io.fileBytes(seg!.path)!.includes(noise)).toBe(true);
    expect((await collect(wal.replay()))[0]!.payload.equals(noise)).toBe(true);
    await wal.close();
  });

  it('encrypts the compressed bytes', async () => {
    const io = new MemoryStorageIo();
    const wal = await openMemory(io, { compression: 'zstd', encryption: testRing() });
    const batch = Array.from({ length: 30 }, (_, i) => ({ payload: event(i) }));
    wal.appendBatch(batch);
    await wal.sync();
    const [seg] = await wal.listSegments();
    const bytes = io.fileBytes(seg!.path)!;
    const plainSize = batch.reduce((n, r) => n + r.payload.length, 0);
    expect(bytes.length).toBeLessThan(plainSize / 2);
    expect(bytes.includes(Buffer.from('page_view'))).toBe(false);
    await wal.close();
    const again = await openMemory(io, { encryption: testRing(), readOnly: true });
    expect((await collect(again.replay())).map((r) => r.payload.toString())).toEqual(
      batch.map((r) => r.payload.toString()),
    );
    await again.close();
  });

  it(`leaves a record shorter than ${MIN_COMPRESSED_BODY} bytes on the plain path`, async () => {
    const io = new MemoryStorageIo();
    const wal = await openMemory(io, { compression: 'zstd' });
    const small = Buffer.from('a'.repeat(60));
    wal.appendPayload(small);
    await wal.sync();
    const [seg] = await wal.listSegments();
    expect(io.fileBytes(seg!.path)!.includes(small)).toBe(true);
    await wal.close();
  });
});

describe('compression option', () => {
  it('refuses an unknown codec and a bad level with WAL_BAD_ARGUMENT naming what is accepted', async () => {
    const err = await expectWalError(
      openMemory(new MemoryStorageIo(), { compression: 'gzip' as 'zstd' }),
      WalErrorCode.BAD_ARGUMENT,
    );
    expect(err.message).toContain("'zstd'");
    const level = await expectWalError(
      openMemory(new MemoryStorageIo(), { compression: { codec: 'zstd', level: 25 } }),
      WalErrorCode.BAD_ARGUMENT,
    );
    expect(level.message).toContain('1..19');
  });

  it.skipIf(canWrite)(
    'on a runtime without zstd, is WAL_BACKEND_UNAVAILABLE naming the runtimes that write it',
    async () => {
      const err = await expectWalError(
        openMemory(new MemoryStorageIo(), { compression: 'zstd' }),
        WalErrorCode.BACKEND_UNAVAILABLE,
      );
      expect(err.message).toContain('Node 22.15');
    },
  );
});
