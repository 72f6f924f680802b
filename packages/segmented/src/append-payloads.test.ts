import { FILE_HEADER_SIZE, WalErrorCode } from '@walnut/codec';
import { MemoryStorageIo } from '@walnut/storage-io';
import { expectWalError, payloadFor } from '@walnut/storage-io/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { collect, DIR, testRing } from '../test/helpers.js';
import { SegmentedWal } from './index.js';

/** Small buffers and segments, so that lists cross both. */
const SMALL = { dir: DIR, writeBufferSize: 4096, segmentTargetSize: 8192 };

/** The frames of every segment, without the file headers (whose salt is random). */
async function framesOf(wal: SegmentedWal, io: MemoryStorageIo): Promise<Buffer[]> {
  const paths = (await wal.listSegments()).map((s) => s.path);
  return paths.map((path) => io.fileBytes(path)!.subarray(FILE_HEADER_SIZE));
}

describe('appendPayloads', () => {
  it('writes exactly the segments a loop of appendPayload writes, across buffers and segments', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(fc.nat(700), { minLength: 1, maxLength: 40 }), { maxLength: 12 }),
        async (lists) => {
          const viaLoop = new MemoryStorageIo();
          const viaLists = new MemoryStorageIo();
          // One clock for both: the frames carry their times (format version 2).
          const clock = () => 1_764_000_000_000;
          const a = await SegmentedWal.open({ ...SMALL, io: viaLoop, clock });
          const b = await SegmentedWal.open({ ...SMALL, io: viaLists, clock });
          let lsn = 0n;
          for (const sizes of lists) {
            const payloads = sizes.map((size, i) => payloadFor(lsn + BigInt(i + 1), size));
            for (const payload of payloads) a.appendPayload(payload);
            lsn += BigInt(payloads.length);
            expect(b.appendPayloads(payloads)).toBe(lsn);
          }
          await a.sync();
          await b.sync();
          expect(await framesOf(b, viaLists)).toEqual(await framesOf(a, viaLoop));
          expect(b.stats().records).toBe(Number(lsn));
          await a.close();
          await b.close();
        },
      ),
      { numRuns: 40 },
    );
  });

  it('refuses a list with any bad entry, appending none of it and taking no LSN', async () => {
    const wal = await SegmentedWal.open({
      dir: DIR,
      io: new MemoryStorageIo(),
      maxRecordSize: 100,
    });
    const ok = Buffer.alloc(10);
    const refused: [unknown, WalErrorCode][] = [
      [[ok, 'text'], WalErrorCode.BAD_ARGUMENT],
      [[ok, new Proxy(Buffer.alloc(4), {})], WalErrorCode.BAD_ARGUMENT],
      [[ok, ok, Buffer.alloc(101)], WalErrorCode.RECORD_TOO_LARGE],
      [[], WalErrorCode.BAD_ARGUMENT],
      [ok, WalErrorCode.BAD_ARGUMENT],
    ];
    for (const [list, code] of refused) {
      expectWalError(() => wal.appendPayloads(list as Uint8Array[]), code);
    }
    expect(wal.appendPayloads([ok, Buffer.alloc(100)])).toBe(2n);
    await wal.sync();
    expect((await collect(wal.replay())).map((r) => r.payload.length)).toEqual([10, 100]);
    await wal.close();
    expectWalError(() => wal.appendPayloads([ok]), 'WAL_CLOSED');
  });

  it('reads each entry of the list once: what was checked is what is written', async () => {
    const io = new MemoryStorageIo();
    const wal = await SegmentedWal.open({ dir: DIR, io, maxRecordSize: 100 });
    const checked = [Buffer.from('first'), Buffer.from('second')];
    const reads = new Map<string | symbol, number>();
    // Each entry answers with the checked payload once, and a payload over maxRecordSize after.
    const list = new Proxy(checked, {
      get(target, key, receiver) {
        if (typeof key === 'string' && /^\d+$/.test(key)) {
          const n = (reads.get(key) ?? 0) + 1;
          reads.set(key, n);
          if (n > 1) return Buffer.alloc(5000, 0xff);
        }
        return Reflect.get(target, key, receiver);
      },
    });
    expect(wal.appendPayloads(list)).toBe(2n);
    await wal.sync();
    const records = await collect(wal.replay());
    expect(records.map((r) => r.payload.toString())).toEqual(['first', 'second']);
    await wal.close();
  });

  it.each([
    { log: 'an encrypted log', options: { encryption: testRing() } },
    { log: 'a log written with direct I/O', options: { directIo: true } },
  ])('appends each payload as its own record in $log', async ({ options }) => {
    const io = new MemoryStorageIo();
    const wal = await SegmentedWal.open({ ...SMALL, ...options, io });
    const payloads = Array.from({ length: 120 }, (_, i) => payloadFor(BigInt(i + 1), 90));
    expect(wal.appendPayloads(payloads.slice(0, 70))).toBe(70n);
    expect(wal.appendPayloads(payloads.slice(70))).toBe(120n);
    await wal.sync();
    await wal.close();
    const again = await SegmentedWal.open({ ...SMALL, ...options, io });
    const records = await collect(again.replay());
    expect(records.map((r) => r.lsn)).toEqual(payloads.map((_, i) => BigInt(i + 1)));
    for (const r of records) expect(r.payload.equals(payloads[Number(r.lsn) - 1]!)).toBe(true);
    expect((await again.listSegments()).length).toBeGreaterThan(1);
    await again.close();
  });
});
