import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FrameScanner, type WalRecord, type WalRecordInput } from '@walnut/codec';
import { removeTempDirs, tempDir } from '@walnut/storage-io/testing';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSegment, type FrameSpec } from '../test/segments.js';
import { MmapWalReader } from './reader.js';

let dir: string;
beforeAll(() => {
  dir = tempDir('walnut-mmap-');
});
afterAll(removeTempDirs);

const recordInput: fc.Arbitrary<WalRecordInput> = fc.record(
  {
    type: fc.integer({ min: 0, max: 0xffff }),
    payload: fc.uint8Array({ maxLength: 300 }),
    meta: fc.uint8Array({ maxLength: 20 }),
    tenantId: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
  },
  { requiredKeys: ['payload'] },
);
const frameSpec: fc.Arbitrary<FrameSpec> = fc.oneof(
  recordInput,
  fc.record({ batch: fc.array(recordInput, { minLength: 1, maxLength: 4 }) }),
);

/** What happens to the bytes after they are written. */
const damage = fc.oneof(
  fc.constant({ kind: 'none' as const }),
  fc.record({
    kind: fc.constant('flip' as const),
    at: fc.nat(),
    bit: fc.integer({ min: 0, max: 7 }),
  }),
  fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('zeros' as const), length: fc.integer({ min: 1, max: 5000 }) }),
  fc.record({
    kind: fc.constant('garbage' as const),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 64 }),
  }),
);

function apply(bytes: Buffer, d: DamageValue): Buffer {
  const frames = bytes.length - 64;
  switch (d.kind) {
    case 'flip': {
      if (frames === 0) return bytes;
      const copy = Buffer.from(bytes);
      copy[64 + (d.at % frames)]! ^= 1 << d.bit;
      return copy;
    }
    case 'cut':
      return frames === 0 ? bytes : bytes.subarray(0, 64 + (d.at % frames));
    case 'zeros':
      return Buffer.concat([bytes, Buffer.alloc(d.length)]);
    case 'garbage':
      return Buffer.concat([bytes, d.bytes]);
    default:
      return bytes;
  }
}
type DamageValue =
  | { kind: 'none' }
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'cut'; at: number }
  | { kind: 'zeros'; length: number }
  | { kind: 'garbage'; bytes: Uint8Array };

let n = 0;

describe('agrees with codec FrameScanner on any segment and any damage', () => {
  it.each(['mmap', 'read'] as const)('%s mode', (mode) => {
    fc.assert(
      fc.property(fc.array(frameSpec, { maxLength: 12 }), damage, (frames, d) => {
        const bytes = apply(buildSegment({ firstLsn: 1n, frames }).bytes, d as DamageValue);
        const path = join(dir, `p${n++}.wal`);
        writeFileSync(path, bytes);
        const reference = new FrameScanner(bytes, { start: 64 });
        const expected = [...reference.records()].map((r) => [
          r.lsn,
          Buffer.from(r.payload).toString('hex'),
        ]);
        const reader = MmapWalReader.open(path, { mode });
        expect(reader.lastLsn).toBeNull();
        const kept = [];
        for (let r = reader.nextRecord(); r !== null; r = reader.nextRecord()) {
          expect(reader.lastLsn).toBe(r.lsn);
          kept.push(r);
        }
        // Records taken early are still whole once the reader has moved past them.
        const got = kept.map((r) => [r.lsn, Buffer.from(r.payload).toString('hex')]);
        expect(got).toEqual(expected);
        expect(reader.stopReason?.kind).toBe(reference.stop?.kind);
        expect(reader.stopReason?.offset).toBe(reference.stop?.offset);
        expect(reader.offset).toBe(reference.offset);
      }),
      { numRuns: 150 },
    );
  });
});

describe('a reader bounded by end reads what a reader of the file cut at end would', () => {
  it.each(['mmap', 'read'] as const)('%s mode', (mode) => {
    fc.assert(
      fc.property(
        fc.array(frameSpec, { maxLength: 12 }),
        damage,
        fc.nat(),
        fc.uint8Array({ maxLength: 9000 }),
        (frames, d, cutAt, after) => {
          const bytes = apply(buildSegment({ firstLsn: 1n, frames }).bytes, d as DamageValue);
          const end = 64 + (cutAt % (bytes.length - 63));
          // Past `end`: whatever a writer has in flight.
          const path = join(dir, `e${n}.wal`);
          writeFileSync(path, Buffer.concat([bytes, after]));
          const cutPath = join(dir, `c${n++}.wal`);
          writeFileSync(cutPath, bytes.subarray(0, end));
          const read = (reader: MmapWalReader) => ({
            records: [...reader.records()].map((r) => [
              r.lsn,
              Buffer.from(r.payload).toString('hex'),
            ]),
            stop: reader.stopReason,
            offset: reader.offset,
            length: reader.length,
          });
          expect(read(MmapWalReader.open(path, { mode, end }))).toEqual(
            read(MmapWalReader.open(cutPath, { mode })),
          );
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe('drain hands out what nextRecord would, whether fn returns promises or not', () => {
  it.each(['mmap', 'read'] as const)('%s mode', async (mode) => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(frameSpec, { maxLength: 12 }),
        damage,
        fc.array(fc.boolean(), { minLength: 1, maxLength: 8 }),
        async (frames, d, awaits) => {
          const bytes = apply(buildSegment({ firstLsn: 1n, frames }).bytes, d as DamageValue);
          const path = join(dir, `d${n++}.wal`);
          writeFileSync(path, bytes);
          const reference = MmapWalReader.open(path, { mode });
          const expected = [...reference.records()].map((r) => r.lsn);
          const reader = MmapWalReader.open(path, { mode });
          const got: bigint[] = [];
          // Some records answered with a promise: drain returns it, and goes on when called again.
          const fn = (record: WalRecord) => {
            got.push(record.lsn);
            expect(reader.lastLsn).toBe(record.lsn);
            return awaits[got.length % awaits.length] ? Promise.resolve() : undefined;
          };
          for (let pending = reader.drain(fn); pending !== undefined; pending = reader.drain(fn))
            await pending;
          expect(got).toEqual(expected);
          expect(reader.stopReason).toEqual(reference.stopReason);
          expect(reader.offset).toBe(reference.offset);
          expect(reader.nextRecord()).toBeNull();
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe('skipTo passes over what nextRecord would hand out below its LSN, and nothing else', () => {
  it.each(['mmap', 'read'] as const)('%s mode', (mode) => {
    fc.assert(
      fc.property(
        fc.array(frameSpec, { maxLength: 12 }),
        damage,
        fc.array(
          fc.tuple(
            fc.integer({ min: 0, max: 8 }),
            fc.integer({ min: 0, max: 3 }),
            fc.constantFrom(1, 2, 5, Number.POSITIVE_INFINITY),
          ),
          { maxLength: 6 },
        ),
        (frames, d, steps) => {
          const bytes = apply(buildSegment({ firstLsn: 1n, frames }).bytes, d as DamageValue);
          const path = join(dir, `s${n++}.wal`);
          writeFileSync(path, bytes);
          const reference = MmapWalReader.open(path, { mode });
          const all = [...reference.records()].map((r) => r.lsn);
          const reader = MmapWalReader.open(path, { mode });
          let last: bigint | null = null;
          // Each step skips `ahead` LSNs past the last record seen, `budget` steps a call,
          // then reads `reads` records.
          for (const [ahead, reads, budget] of steps) {
            const target: bigint = (last ?? 0n) + 1n + BigInt(ahead);
            let calls = 1;
            while (!reader.skipTo(target, budget)) expect(calls++).toBeLessThan(1000);
            const passed: bigint[] = all.filter(
              (lsn) => lsn < target && (last === null || lsn > last),
            );
            last = passed.at(-1) ?? last;
            expect(reader.lastLsn).toBe(last);
            for (let k = 0; k < reads; k++) {
              const record = reader.nextRecord();
              const expected = all.find((lsn) => last === null || lsn > last);
              expect(record?.lsn).toBe(expected);
              if (record === null) break;
              last = record.lsn;
            }
          }
          const rest = [...reader.records()].map((r) => r.lsn);
          expect(rest).toEqual(all.filter((lsn) => last === null || lsn > last));
          expect(reader.stopReason).toEqual(reference.stopReason);
          expect(reader.offset).toBe(reference.offset);
        },
      ),
      { numRuns: 150 },
    );
  });
});
