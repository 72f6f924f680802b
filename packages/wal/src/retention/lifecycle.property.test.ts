import type { WalRecord } from '@walnut/codec';
import { FaultyStorageIo, MemoryStorageIo } from '@walnut/storage-io';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Wal } from '../wal.js';

const DIR = '/log';
const SEGMENT = 4096;
const MAX_BYTES = 4 * SEGMENT;
const NAMES = ['a', 'b', 'c'] as const;

type Op =
  | { kind: 'append'; count: number; size: number }
  | { kind: 'commit'; cursor: number; back: number; wait: boolean }
  | { kind: 'retention' }
  | { kind: 'tick' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('append' as const),
      count: fc.integer({ min: 1, max: 40 }),
      size: fc.integer({ min: 0, max: 300 }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('commit' as const),
      cursor: fc.nat(NAMES.length - 1),
      back: fc.nat(60),
      wait: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('retention' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('tick' as const) }) },
);

const payloadOf = (lsn: bigint, size: number) => Buffer.alloc(size, Number(lsn % 251n));

const open = (io: FaultyStorageIo) =>
  Wal.open(DIR)
    .storageIo(io)
    .segmentSize(SEGMENT)
    .retention({ maxBytes: MAX_BYTES, intervalMs: 1 << 30 })
    .build();

const diskBytes = async (wal: Wal) => (await wal.segments()).reduce((n, s) => n + s.sizeBytes, 0);

describe('cursors and retention under power loss', () => {
  it('keep every acknowledged record a cursor still needs and every acknowledged commit; disk stays within maxBytes plus a segment', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(opArb, { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        async (ops, seed) => {
          const memory = new MemoryStorageIo();
          const io = new FaultyStorageIo(memory, { seed });
          const wal = await open(io);
          const cursors = await Promise.all(NAMES.map((name) => wal.cursor(name)));
          const sizes = new Map<bigint, number>();
          const acked = new Map<string, bigint>(NAMES.map((name) => [name, 0n]));
          const attempted = new Map<string, bigint[]>(NAMES.map((name) => [name, []]));
          // Which attempt was acknowledged last: a value alone cannot say (0n is also the start).
          const ackedIndex = new Map<string, number>();
          let durable = 0n;
          for (const op of ops) {
            if (op.kind === 'append') {
              const first = wal.lastLsn + 1n;
              const payloads = Array.from({ length: op.count }, (_, i) =>
                payloadOf(first + BigInt(i), op.size),
              );
              for (let i = 0; i < op.count; i++) sizes.set(first + BigInt(i), op.size);
              durable = await wal.appendMany(payloads);
            } else if (op.kind === 'commit') {
              const cursor = cursors[op.cursor]!;
              const target = durable - BigInt(op.back);
              if (target < wal.floorLsn - 1n || target < 0n) continue;
              const tries = attempted.get(cursor.name)!;
              const index = tries.push(target) - 1;
              const commit = cursor.commit(target).then(() => {
                if (index > (ackedIndex.get(cursor.name) ?? -1)) {
                  acked.set(cursor.name, target);
                  ackedIndex.set(cursor.name, index);
                }
              });
              if (op.wait) await commit;
              else commit.catch(() => undefined);
            } else if (op.kind === 'retention') {
              const report = await wal.applyRetention();
              const over = (await diskBytes(wal)) > MAX_BYTES + SEGMENT;
              if (over) expect(report.heldBy).toBeDefined();
            } else {
              await new Promise((resolve) => setImmediate(resolve));
            }
          }
          const ackedAtCrash = new Map(acked);
          const ackedIndexAtCrash = new Map(ackedIndex);
          const durableAtCrash = durable;
          await io.crash({ tear: true });
          await wal.close().catch(() => undefined);

          // Without retention: a pass at open would race the replay that checks the records.
          const after = await Wal.open(DIR)
            .storageIo(new FaultyStorageIo(memory, { seed: seed + 1 }))
            .build();
          try {
            const positions = new Map((await after.cursors()).map((info) => [info.name, info.lsn]));
            for (const name of NAMES) {
              const lsn = positions.get(name)!;
              // The last acknowledged commit, or one made after it that was still on its way.
              const later = attempted.get(name)!.slice(ackedIndexAtCrash.get(name) ?? 0);
              expect([ackedAtCrash.get(name)!, ...later]).toContain(lsn);
            }
            // Retention never passed a cursor (no cap here): the slowest one's next record is kept.
            for (const lsn of positions.values()) {
              expect(after.floorLsn).toBeLessThanOrEqual(lsn + 1n);
            }
            // Every acknowledged record from the floor on is there, with its bytes.
            expect(after.lastLsn).toBeGreaterThanOrEqual(durableAtCrash);
            let next = after.floorLsn;
            await after.replay(after.floorLsn, (record: WalRecord) => {
              expect(record.lsn).toBe(next);
              expect(record.payload.equals(payloadOf(record.lsn, sizes.get(record.lsn)!))).toBe(
                true,
              );
              next++;
            });
            expect(next).toBe(after.lastLsn + 1n);
          } finally {
            await after.close();
          }
        },
      ),
      { numRuns: 40 },
    );
  }, 120_000);
});
