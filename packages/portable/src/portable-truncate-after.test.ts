import { FILE_HEADER_SIZE, FrameScanner, WalErrorCode } from '@walnut/codec';
import { FaultyStorageIo, MemoryStorageIo, PowerLossAtStep } from '@walnut/storage-io';
import { expectWalError } from '@walnut/storage-io/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PortableWalWriter } from './portable-wal-writer.js';

const FILE = '/portable/log.wal';

async function writerOn(io: MemoryStorageIo | FaultyStorageIo, config = {}) {
  return PortableWalWriter.open(FILE, { storageIo: io, ...config });
}

function recordsIn(memory: MemoryStorageIo): string[] {
  const scanner = new FrameScanner(memory.fileBytes(FILE)!, { start: FILE_HEADER_SIZE });
  return [...scanner.records()].map((r) => `${r.lsn}:${r.payload.toString()}`);
}

const data = (i: number, history = 'old') => Buffer.from(`${history}-${i}-${'x'.repeat(i * 7)}`);

describe('PortableWalWriter.truncateAfter', () => {
  it('cuts after the record of the LSN; the next checksummed record gets the LSN after it', async () => {
    const memory = new MemoryStorageIo();
    await memory.mkdir('/portable');
    const writer = await writerOn(memory);
    for (let i = 1; i <= 6; i++) await writer.appendWithChecksum(data(i));
    expect(await writer.truncateAfter(3n)).toEqual({ afterLsn: 3n, recordsRemoved: 3n });
    expect(writer.nextLsn).toBe(4n);
    await writer.appendWithChecksum(data(4, 'new'));
    await writer.sync();
    await writer.close();
    expect(recordsIn(memory).map((r) => r.split('-').slice(0, 2).join('-'))).toEqual([
      '1:old-1',
      '2:old-2',
      '3:old-3',
      '4:new-4',
    ]);
  });

  it('waits for what was called before it; pending batches are written after the cut, from lsn + 1', async () => {
    const memory = new MemoryStorageIo();
    await memory.mkdir('/portable');
    const writer = await writerOn(memory);
    const direct = [1, 2, 3, 4].map((i) => writer.appendWithChecksum(data(i)));
    await writer.appendWithChecksumBatched(data(5, 'pending'));
    const cut = writer.truncateAfter(2n);
    await Promise.all(direct);
    expect(await cut).toMatchObject({ recordsRemoved: 2n });
    await writer.flushBatch();
    await writer.close();
    expect(recordsIn(memory).map((r) => r.split('-').slice(0, 2).join('-'))).toEqual([
      '1:old-1',
      '2:old-2',
      '3:pending-5',
    ]);
  });

  it('after 0 removes every record, after the last changes nothing, above it or in a raw file is refused', async () => {
    const memory = new MemoryStorageIo();
    await memory.mkdir('/portable');
    const writer = await writerOn(memory);
    for (let i = 1; i <= 3; i++) await writer.appendWithChecksum(data(i));
    expect(await writer.truncateAfter(3n)).toEqual({ afterLsn: 3n, recordsRemoved: 0n });
    await expect(writer.truncateAfter(4n)).rejects.toMatchObject({
      code: WalErrorCode.BAD_ARGUMENT,
    });
    expect(await writer.truncateAfter(0n)).toEqual({ afterLsn: 0n, recordsRemoved: 3n });
    expect(writer.size).toBe(FILE_HEADER_SIZE);
    await writer.close();
    const raw = await PortableWalWriter.open('/portable/raw.wal', {
      storageIo: memory,
      content: 'raw',
    });
    await expectWalError(raw.truncateAfter(0n), WalErrorCode.BAD_STATE);
    await raw.close();
  });

  it('cuts nothing, and says so, when the record to cut after is no longer in the file', async () => {
    const memory = new MemoryStorageIo();
    await memory.mkdir('/portable');
    const writer = await writerOn(memory);
    const offsets: number[] = [];
    for (let i = 1; i <= 5; i++) offsets.push(await writer.appendWithChecksum(data(i)));
    // Something else zeroes record 3's header, and the rest of its sector, while the writer
    // has the file open.
    const fd = await memory.open(FILE);
    await memory.write(fd, Buffer.alloc(512 - (offsets[2]! % 512)), offsets[2]!);
    await memory.close(fd);
    const before = Buffer.from(memory.fileBytes(FILE)!);
    const refused = await expectWalError(writer.truncateAfter(4n), WalErrorCode.CORRUPT);
    expect(refused.message).toMatch(/no record of that LSN/);
    expect(memory.fileBytes(FILE)).toEqual(before);
    expect(writer.nextLsn).toBe(6n);
    await writer.close();
  });

  it('a power loss at any step of the cut leaves the file before or after it, and it goes on', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 12 }), fc.nat(), async (count, pick) => {
        const after = BigInt(pick % (count + 1));
        let finished = false;
        for (let step = 0; !finished; step++) {
          const memory = new MemoryStorageIo();
          await memory.mkdir('/portable');
          const io = new PowerLossAtStep(memory, { at: step, armed: false });
          const writer = await writerOn(io);
          for (let i = 1; i <= count; i++) await writer.appendWithChecksum(data(i));
          await writer.sync();
          io.arm();
          await writer.truncateAfter(after).catch(() => {});
          finished = !io.cut;
          await io.crash({ tear: true });
          await writer.close().catch(() => {});
          const reopened = await writerOn(new FaultyStorageIo(memory));
          const kept = reopened.nextLsn! - 1n;
          expect(kept === BigInt(count) || kept === after).toBe(true);
          if (finished) expect(kept).toBe(after);
          await reopened.appendWithChecksum(data(Number(kept) + 1, 'new'));
          await reopened.sync();
          await reopened.close();
          const records = recordsIn(memory);
          expect(records.length).toBe(Number(kept) + 1);
          expect(records.at(-1)).toContain(':new-');
        }
      }),
      { numRuns: 30 },
    );
  });
});
