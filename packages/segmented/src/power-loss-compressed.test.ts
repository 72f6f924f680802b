import { zstdImplementation } from '@walnut/codec';
import { FaultyStorageIo, MemoryStorageIo } from '@walnut/storage-io';
import { payloadFor } from '@walnut/storage-io/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { collect, DIR } from '../test/helpers.js';
import { SegmentedWal } from './index.js';

// power-loss.test.ts's property with compression on: the writer's frames are compressed
// batches and records, and appendPayloads runs, torn and reordered by a power loss.
const canWrite = zstdImplementation().encoder !== null;
const WRITE_SKIP = `writing zstd needs Node 22.15 or later, this is Node ${process.versions.node}`;

type Op =
  | { kind: 'append'; size: number }
  | { kind: 'batch'; sizes: number[] }
  | { kind: 'payloads'; sizes: number[] }
  | { kind: 'sync'; wait: boolean }
  | { kind: 'tick' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('append' as const),
      size: fc.integer({ min: 0, max: 2000 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('batch' as const),
      sizes: fc.array(fc.integer({ min: 0, max: 600 }), { minLength: 1, maxLength: 8 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('payloads' as const),
      sizes: fc.array(fc.integer({ min: 0, max: 600 }), { minLength: 1, maxLength: 20 }),
    }),
  },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('sync' as const), wait: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('tick' as const) }) },
);

/** A payload that compresses: its LSN's bytes, then a run of one letter. */
function compressible(lsn: bigint, size: number): Buffer {
  const out = Buffer.alloc(size, 0x61 + Number(lsn % 26n));
  payloadFor(lsn, Math.min(size, 16)).copy(out);
  return out;
}

const tick = () => new Promise<void>((r) => setImmediate(r));

describe.skipIf(!canWrite)(
  `power loss with compression on (${canWrite ? 'writes' : WRITE_SKIP})`,
  () => {
    it('recovers a prefix of what was appended that holds every record a completed sync() covered', {
      timeout: 120_000,
    }, async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(opArb, { minLength: 1, maxLength: 40 }),
          fc.integer({ min: 0, max: 2 ** 31 - 1 }),
          fc.constantFrom(4096, 32_768),
          fc.boolean(),
          async (ops, seed, segmentTargetSize, reorder) => {
            const memory = new MemoryStorageIo();
            const io = new FaultyStorageIo(memory, { seed });
            const config = {
              dir: DIR,
              writeBufferSize: 4096,
              segmentTargetSize,
              compression: 'zstd' as const,
            };
            const wal = await SegmentedWal.open({ ...config, io });
            const appended = new Map<bigint, Buffer>();
            let acked = 0n;
            const ack = (lsn: bigint) => {
              if (lsn > acked) acked = lsn;
            };
            const many = (sizes: number[]) => {
              const first = wal.nextLsn;
              const payloads = sizes.map((s, i) => compressible(first + BigInt(i), s));
              for (const [i, p] of payloads.entries()) appended.set(first + BigInt(i), p);
              return payloads;
            };
            for (const op of ops) {
              if (op.kind === 'append') {
                const lsn = wal.nextLsn;
                const p = compressible(lsn, op.size);
                expect(wal.append({ payload: p })).toBe(lsn);
                appended.set(lsn, p);
              } else if (op.kind === 'batch') {
                wal.appendBatch(many(op.sizes).map((payload) => ({ payload })));
              } else if (op.kind === 'payloads') {
                wal.appendPayloads(many(op.sizes));
              } else if (op.kind === 'sync') {
                const p = wal.sync().then(ack);
                if (op.wait) await p;
                else p.catch(() => {});
              } else {
                await tick();
              }
            }
            const durableAtCrash = acked;
            await io.crash({ tear: true, reorder });
            await wal.close();
            const after = await SegmentedWal.open({
              ...config,
              io: new FaultyStorageIo(memory, { seed: seed + 1 }),
            });
            const recs = await collect(after.replay());
            const last = after.nextLsn - 1n;
            expect(last).toBeGreaterThanOrEqual(durableAtCrash);
            expect(recs.map((r) => r.lsn)).toEqual(
              Array.from({ length: Number(last) }, (_, i) => BigInt(i + 1)),
            );
            for (const r of recs) expect(r.payload.equals(appended.get(r.lsn)!)).toBe(true);
            expect(after.append({ payload: Buffer.from('next') })).toBe(last + 1n);
            expect(await after.sync()).toBe(last + 1n);
            await after.close();
          },
        ),
        { numRuns: 150, timeout: 10_000 },
      );
    });
  },
);
