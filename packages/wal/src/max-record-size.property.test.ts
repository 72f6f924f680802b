import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { removeTempDirs, tempDir } from '@walnut/storage-io/testing';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import type { WalOptions } from './options.js';
import { Wal } from './wal.js';

/**
 * maxRecordSize limits what a run appends, never what any later run reads: the format's own
 * bound, the segment's size and the CRC decide what a frame is. An application that raised
 * the option once and later left it out must find every acknowledged record and never see
 * an LSN handed out twice.
 */
const root = tempDir('walnut-max-record-size-');
afterAll(removeTempDirs);
let dirs = 0;
const freshDir = () => join(root, `log-${dirs++}`);

/** The bytes of record `lsn` of a log, `size` long: recognisable, and different per LSN. */
function payloadOf(lsn: number, size: number): Buffer {
  const payload = Buffer.alloc(size, lsn & 0xff);
  payload.write(`#${lsn}#`.slice(0, size));
  return payload;
}

async function readAll(wal: Wal): Promise<Map<bigint, Buffer>> {
  const records = new Map<bigint, Buffer>();
  await wal.replay(1n, (record) => {
    records.set(record.lsn, Buffer.from(record.payload));
  });
  return records;
}

function expectEvery(read: Map<bigint, Buffer>, sizes: readonly number[]): void {
  expect([...read.keys()]).toEqual(sizes.map((_, i) => BigInt(i + 1)));
  sizes.forEach((size, i) => {
    expect(read.get(BigInt(i + 1))?.equals(payloadOf(i + 1, size))).toBe(true);
  });
}

describe('maxRecordSize limits new appends, never what a later run reads', () => {
  it('a 20 MiB record appended under maxRecordSize 32 MiB survives a reopen with the default (16 MiB)', async () => {
    const dir = freshDir();
    let wal = await Wal.open(dir)
      .maxRecordSize(32 << 20)
      .build();
    await wal.appendMany([Buffer.from('small 1'), Buffer.from('small 2')]);
    const big = Buffer.alloc(20 << 20, 1);
    expect(await wal.append(big)).toBe(3n);
    await wal.shutdown(5_000);

    wal = await Wal.open(dir).build();
    expect(wal.recovery.tornTail).toBeNull();
    expect(wal.lastLsn).toBe(3n);
    const read = await readAll(wal);
    expect(read.get(3n)?.equals(big)).toBe(true);
    expect(await wal.append(Buffer.from('next'))).toBe(4n);
    await wal.shutdown(5_000);
  });

  it('a read-only opener (default options) beside the writer reads past records over the default maxRecordSize', async () => {
    const dir = freshDir();
    const writer = await Wal.open(dir)
      .maxRecordSize(32 << 20)
      .segmentSize(16 << 10)
      .build();
    const sizes = [10, 17 << 20, 20, 18 << 20, 30];
    for (const [i, size] of sizes.entries()) await writer.append(payloadOf(i + 1, size));
    const reader = await Wal.open(dir).readOnly().build();
    expectEvery(await readAll(reader), sizes);
    await reader.close();
    await writer.shutdown(5_000);
  });

  it('property: written under one maxRecordSize, reopened under any other and any recovery mode, nothing is lost and no LSN is reused', async () => {
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 256, max: 48 << 10 }).chain((writeLimit) =>
          fc.record({
            writeLimit: fc.constant(writeLimit),
            sizes: fc.array(fc.integer({ min: 1, max: writeLimit }), {
              minLength: 1,
              maxLength: 12,
            }),
            segmentSize: fc.constantFrom(4096, 16 << 10, 64 << 20),
            reopenLimit: fc.option(fc.integer({ min: 1, max: writeLimit }), { nil: undefined }),
            reopenAs: fc.constantFrom('truncate-tail', 'strict', 'salvage', 'read-only'),
          }),
        ),
        async ({ writeLimit, sizes, segmentSize, reopenLimit, reopenAs }) => {
          runs++;
          const dir = freshDir();
          const writer = await Wal.open(dir)
            .options({ maxRecordSize: writeLimit, segmentSize })
            .build();
          for (const [i, size] of sizes.entries()) await writer.append(payloadOf(i + 1, size));
          await writer.shutdown(5_000);

          const options: WalOptions =
            reopenAs === 'read-only'
              ? { readOnly: true }
              : { segmentSize, recovery: reopenAs, maxRecordSize: reopenLimit };
          const reopened = await Wal.open(dir).options(options).build();
          try {
            expect(reopened.recovery.tornTail).toBeNull();
            expectEvery(await readAll(reopened), sizes);
            if (reopenAs !== 'read-only') {
              expect(await reopened.append(Buffer.from('a'))).toBe(BigInt(sizes.length + 1));
            }
          } finally {
            await reopened.shutdown(5_000);
          }
          rmSync(dir, { recursive: true, force: true });
        },
      ),
      { numRuns: 60 },
    );
    expect(runs).toBe(60);
  }, 120_000);
});
