import { FILE_HEADER_SIZE, FrameScanner, recordFrameSize } from '@walnut/codec';
import { MemoryStorageIo } from '@walnut/storage-io';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PortableWalWriter } from './portable-wal-writer.js';

const FILE = '/portable/log.wal';
/** Opening reads the file in chunks of this many bytes, grown to fit a longer frame. */
const CHUNK = 1024 * 1024;
const FRAME_OVERHEAD = recordFrameSize({ payload: Buffer.alloc(1) }) - 1;

const payload = (lsn: number, size: number) => Buffer.alloc(size, lsn & 0xff);

/** Each record as `lsn:size:first byte`, read from the file's bytes without the writer. */
function recordsIn(io: MemoryStorageIo): string[] {
  const scanner = new FrameScanner(io.fileBytes(FILE)!, { start: FILE_HEADER_SIZE });
  return [...scanner.records()].map((r) => `${r.lsn}:${r.payload.length}:${r.payload[0]}`);
}

async function openWith(
  sizes: number[],
): Promise<{ io: MemoryStorageIo; writer: PortableWalWriter }> {
  const io = new MemoryStorageIo();
  await io.mkdir('/portable');
  const writer = await PortableWalWriter.open(FILE, { storageIo: io });
  for (const [i, size] of sizes.entries()) await writer.appendWithChecksum(payload(i + 1, size));
  await writer.sync();
  return { io, writer };
}

async function writeRecords(sizes: number[]): Promise<{ io: MemoryStorageIo; size: number }> {
  const { io, writer } = await openWith(sizes);
  const size = writer.size;
  await writer.close();
  return { io, size };
}

/** Payload sizes around one and two chunks, frames that end exactly at a chunk's end, and small ones. */
const recordSize = fc.oneof(
  fc.integer({ min: 1, max: 300 }),
  fc.integer({ min: CHUNK - 300, max: CHUNK + 300 }),
  fc.constant(CHUNK - FRAME_OVERHEAD),
  fc.constant(2 * CHUNK - FRAME_OVERHEAD),
  fc.integer({ min: 2 * CHUNK - 300, max: 3 * CHUNK }),
);

describe('opening a portable file keeps every record, whatever its size against the read chunk', () => {
  it('reopens with every acknowledged record and the next LSN after them', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(recordSize, { minLength: 1, maxLength: 6 }), async (sizes) => {
        const { io, size } = await writeRecords(sizes);
        const written = recordsIn(io);
        expect(written).toHaveLength(sizes.length);

        const records = await PortableWalWriter.open(FILE, { storageIo: io });
        expect(records.nextLsn).toBe(BigInt(sizes.length + 1));
        expect(records.size).toBe(size);
        expect(records.recovery).toBeNull();
        await records.close();
        expect(recordsIn(io)).toEqual(written);

        const raw = await PortableWalWriter.open(FILE, { storageIo: io, content: 'raw' });
        expect(raw.nextLsn).toBe(BigInt(sizes.length + 1));
        await raw.close();
      }),
      { numRuns: 40 },
    );
  });

  it('truncateAfter, in the session that wrote them, cuts after any of those records', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(recordSize, { minLength: 1, maxLength: 6 }),
        fc.nat(),
        async (sizes, pick) => {
          const { io, writer } = await openWith(sizes);
          const written = recordsIn(io);
          const keep = pick % (sizes.length + 1);
          expect(await writer.truncateAfter(BigInt(keep))).toEqual({
            afterLsn: BigInt(keep),
            recordsRemoved: BigInt(sizes.length - keep),
          });
          expect(writer.nextLsn).toBe(BigInt(keep + 1));
          await writer.close();
          expect(recordsIn(io)).toEqual(written.slice(0, keep));
        },
      ),
      { numRuns: 25 },
    );
  });

  it('keeps a record that follows a frame ending exactly where the first chunk ends', async () => {
    const { io, size } = await writeRecords([CHUNK - FRAME_OVERHEAD, 5]);
    const writer = await PortableWalWriter.open(FILE, { storageIo: io });
    expect(writer.nextLsn).toBe(3n);
    expect(writer.size).toBe(size);
    await writer.close();
  });
});
