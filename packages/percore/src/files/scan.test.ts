import { isWalError, WalErrorCode } from '@walnut/codec';
import { MemoryStorageIo } from '@walnut/storage-io';
import { beforeEach, describe, expect, it } from 'vitest';
import { PerCoreWalReader } from '../read/reader.js';
import { CoreWalWriter } from '../write/core-wal-writer.js';
import { scanCoreRange } from './scan.js';

const PATH = '/wal/wal-0.log';
let io: MemoryStorageIo;

beforeEach(async () => {
  io = new MemoryStorageIo();
  await io.mkdir('/wal');
});

/** Writes `n` puts of 100-byte values and returns the end of each entry. */
async function writeEntries(n: number): Promise<number[]> {
  const writer = await CoreWalWriter.create(0, PATH, { io });
  const ends: number[] = [];
  for (let i = 0; i < n; i++)
    ends.push(writer.appendPut(Buffer.from(`k${i}`), Buffer.alloc(100, i)));
  await writer.close();
  return ends;
}

async function patch(offset: number, data: Uint8Array): Promise<void> {
  const fd = await io.open(PATH);
  await io.write(fd, data, offset);
  await io.close(fd);
}

/** Scans the whole file with a small chunk so that chunk boundaries fall inside entries. */
async function scanSmallChunks(chunk: number) {
  const fd = await io.open(PATH, { readOnly: true });
  try {
    const size = await io.size(fd);
    let count = 0;
    const outcome = await scanCoreRange(
      io,
      fd,
      PATH,
      64,
      size,
      { coreId: 0, previousSequence: 0n },
      () => count++,
      chunk,
    );
    return { outcome, count };
  } finally {
    await io.close(fd);
  }
}

describe('reading a core file', () => {
  it('reads every entry across chunk boundaries that cut entries', async () => {
    const ends = await writeEntries(200);
    const { outcome, count } = await scanSmallChunks(1000);
    expect(count).toBe(200);
    expect(outcome.stop.kind).toBe('eof');
    expect(outcome.end).toBe(ends.at(-1));
  });

  it('stops at a torn tail and reports where to cut', async () => {
    const ends = await writeEntries(50);
    await patch(ends.at(-1)!, Buffer.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]));
    const reader = await PerCoreWalReader.open(PATH, { io });
    const result = await reader.read();
    await reader.close();
    expect(result.entries).toHaveLength(50);
    expect(result.stop.kind).toBe('torn');
    expect(result.end).toBe(ends.at(-1));
  });

  it('reports damage followed by valid entries as corruption with file and offset, even in an earlier chunk', async () => {
    const ends = await writeEntries(200);
    await patch(ends[9]! + 20, Buffer.from([0xff, 0xee]));
    const { outcome } = await scanSmallChunks(1000);
    expect(outcome.stop.kind).toBe('corrupt');
    expect(outcome.end).toBe(ends[9]);

    const reader = await PerCoreWalReader.open(PATH, { io, coreId: 0 });
    const error = await reader.read().catch((e: unknown) => e);
    await reader.close();
    expect(isWalError(error, WalErrorCode.CORRUPT) && error.details).toMatchObject({
      segment: PATH,
      offset: ends[9],
      coreId: 0,
    });
  });

  it('ends at a hole a power loss left only when told the range is the unsynced tail', async () => {
    const ends = await writeEntries(200);
    // Writes that never arrived: zeros from an entry boundary over a whole sector, then entries.
    await patch(ends[9]!, Buffer.alloc(1024));
    const read = async (unsyncedTail: boolean) => {
      const reader = await PerCoreWalReader.open(PATH, { io, coreId: 0 });
      try {
        return await reader.read({ unsyncedTail });
      } finally {
        await reader.close();
      }
    };
    const tail = await read(true);
    expect(tail.stop).toMatchObject({ kind: 'torn', offset: ends[9] });
    expect(tail.stop.reason).toMatch(/zero-filled hole/);
    // It cannot tell lost unsynced writes from synced data a disk zeroed: it never claims
    // the entries after the hole were not durable.
    expect(tail.stop.reason).toContain('taken for a hole of lost writes');
    expect(tail.stop.reason).toContain('a disk that zeroed synced data also leaves');
    expect(tail.stop.reason).not.toMatch(/never made durable/);
    expect(tail.entries).toHaveLength(10);
    await expect(read(false)).rejects.toSatisfy((e: unknown) =>
      isWalError(e, WalErrorCode.CORRUPT),
    );
    // The same where the hole ends a chunk that is not the last.
    const fd = await io.open(PATH, { readOnly: true });
    const size = await io.size(fd);
    const expect0 = { coreId: 0, previousSequence: 0n, unsyncedTail: true };
    const chunked = await scanCoreRange(io, fd, PATH, 64, size, expect0, undefined, 1500);
    await io.close(fd);
    expect(chunked.stop).toMatchObject({ kind: 'torn', offset: ends[9] });
  });

  it('treats zero-filled space after the last entry as a clean end', async () => {
    const ends = await writeEntries(5);
    await patch(ends.at(-1)!, Buffer.alloc(4096));
    const reader = await PerCoreWalReader.open(PATH, { io });
    const result = await reader.read();
    await reader.close();
    expect(result.stop.kind).toBe('eof');
    expect(result.entries).toHaveLength(5);
  });

  it('rejects a file whose first entry is not sequence 1 when read from the header', async () => {
    const ends = await writeEntries(3);
    const reader = await PerCoreWalReader.open(PATH, { io });
    await expect(
      reader.read({ from: { position: ends[0]!, sequence: 5n, epoch: 0n, timestampNs: 0n } }),
    ).rejects.toSatisfy((e: unknown) => isWalError(e, WalErrorCode.CORRUPT));
    const tail = await reader.read({ from: ends[0]! });
    expect(tail.entries.map((e) => e.sequence)).toEqual([2n, 3n]);
    await reader.close();
  });
});
