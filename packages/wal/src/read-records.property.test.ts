import { payloadFor, removeTempDirs, tempDir } from '@walnut/storage-io/testing';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Batch } from './batch.js';
import { Wal } from './wal.js';

/**
 * An iterator moved ahead with `skipTo` hands out exactly the records an iterator without
 * skips would, less those below each target: across sealed segments (mapped), the segment
 * being written (mapped from its start, or read in the engine's pages), batches, and a
 * read-only opener's iterator.
 */
const RECORDS = 1500;
let dir: string;
let writer: Wal;
let reader: Wal;

beforeAll(async () => {
  dir = tempDir('walnut-skip-');
  writer = await Wal.open(dir).segmentSize(8192).durability('none').build();
  // Single records and batches of up to 7, so that some frames hold several LSNs.
  for (let lsn = 1; lsn <= RECORDS; ) {
    const size = 1 + (lsn % 7);
    const batch = Array.from({ length: Math.min(size, RECORDS - lsn + 1) }, (_, i) =>
      payloadFor(lsn + i, 40),
    );
    if (batch.length === 1) await writer.append(batch[0]!);
    else await writer.appendBatch(batch.reduce((b, payload) => b.add(payload), new Batch()));
    lsn += batch.length;
  }
  await writer.flush();
  reader = await Wal.open(dir).readOnly().build();
});
afterAll(async () => {
  await reader?.close();
  await writer?.close();
  removeTempDirs();
});

describe('skipTo hands out what filtering the records would', () => {
  it.each(['writer', 'read-only opener'] as const)("a %s's iterator", async (who) => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: RECORDS + 2 }),
        // Skips within a page or a segment and across several; reads of a few records or
        // across a segment's end.
        fc.array(
          fc.tuple(
            fc.oneof(fc.integer({ min: 0, max: 6 }), fc.integer({ min: 0, max: 700 })),
            fc.oneof(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 50, max: 300 })),
          ),
          { maxLength: 12 },
        ),
        async (from, steps) => {
          const wal = who === 'writer' ? writer : reader;
          const iterator = wal.iterator(BigInt(from));
          let next = from;
          const got: number[] = [];
          const expected: number[] = [];
          for (const [ahead, reads] of steps) {
            iterator.skipTo(BigInt(next + ahead));
            next += ahead;
            for (let k = 0; k < reads; k++) {
              const { value, done } = await iterator.next();
              if (next <= RECORDS) expected.push(next);
              if (done) break;
              got.push(Number(value.lsn));
              expect(value.payload).toEqual(payloadFor(Number(value.lsn), 40));
              next = Number(value.lsn) + 1;
            }
          }
          await iterator.return();
          expect(got).toEqual(expected);
        },
      ),
      { numRuns: 40 },
    );
  });
});
