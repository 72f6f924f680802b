import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { WalRecord } from '@walnut/codec';
import {
  FaultyStorageIo,
  MemoryStorageIo,
  type StorageIo,
  UnorderedStorageIo,
} from '@walnut/storage-io';
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
  | { kind: 'tick' }
  | { kind: 'age'; ms: number };

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
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('age' as const),
      ms: fc.integer({ min: 0, max: 500 }),
    }),
  },
);

const T0 = Date.UTC(2026, 10, 25);

const payloadOf = (lsn: bigint, size: number) => Buffer.alloc(size, Number(lsn % 251n));

/** By size, by age, or both. */
const limitsArb = fc.oneof(
  fc.constant({ maxBytes: MAX_BYTES, maxAgeMs: undefined }),
  fc.record({ maxBytes: fc.constant(undefined), maxAgeMs: fc.integer({ min: 0, max: 1000 }) }),
  fc.record({ maxBytes: fc.constant(MAX_BYTES), maxAgeMs: fc.integer({ min: 0, max: 1000 }) }),
);

const open = (
  io: StorageIo,
  clock: () => number,
  limits: { maxBytes: number | undefined; maxAgeMs: number | undefined },
) =>
  Wal.open(DIR)
    .storageIo(io)
    .segmentSize(SEGMENT)
    .clock(clock)
    .retention({ ...limits, intervalMs: 1 << 30 })
    .build();

interface Deleted {
  firstLsn: bigint;
  lastLsn: bigint | null;
  reason: string;
}

const diskBytes = async (wal: Wal) => (await wal.segments()).reduce((n, s) => n + s.sizeBytes, 0);

describe('cursors and retention under power loss', () => {
  it('keep every acknowledged record a cursor still needs and every acknowledged commit; disk stays within maxBytes plus a segment; nothing younger than maxAgeMs goes by age', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(opArb, { minLength: 1, maxLength: 60, size: 'large' }),
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        limitsArb,
        fc.option(fc.nat(), { nil: undefined }),
        async (ops, seed, limits, orderSeed) => {
          const { maxBytes, maxAgeMs } = limits;
          const memory = new MemoryStorageIo();
          const io = new FaultyStorageIo(memory, { seed });
          // Half the cases run independent operations in a random order, as io_uring may.
          const ordered =
            orderSeed === undefined ? io : new UnorderedStorageIo(io, { seed: orderSeed });
          let now = T0;
          // Each record's append time (the clock only moves forward here) and every deletion
          // of a pass, the ones retention starts by itself too, with the time it was reported at.
          const times = new Map<bigint, number>();
          const deletions: { at: number; deleted: Deleted }[] = [];
          const listen = (message: unknown) => {
            for (const deleted of (message as { deleted: Deleted[] }).deleted)
              deletions.push({ at: now, deleted });
          };
          subscribe('walnut:wal:retention', listen);
          try {
            const wal = await open(ordered, () => now, limits);
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
                for (let i = 0; i < op.count; i++) {
                  sizes.set(first + BigInt(i), op.size);
                  times.set(first + BigInt(i), now);
                }
                durable = await wal.appendMany(payloads);
              } else if (op.kind === 'commit') {
                const cursor = cursors[op.cursor]!;
                const target = durable - BigInt(op.back);
                const tries = attempted.get(cursor.name)!;
                // Consumers commit progress: a commit moving a cursor back could land after a
                // pass read the cursor files and deleted what it moves back to.
                if (target < (tries[tries.length - 1] ?? 0n)) continue;
                if (target < wal.floorLsn - 1n || target < 0n) continue;
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
                const over = maxBytes !== undefined && (await diskBytes(wal)) > maxBytes + SEGMENT;
                if (over) expect(report.heldBy).toBeDefined();
              } else if (op.kind === 'age') {
                now += op.ms;
              } else {
                await new Promise((resolve) => setImmediate(resolve));
              }
            }
            // The age rule deleted only segments whose every record was older than maxAgeMs
            // when the pass reported it (the pass read the clock before, at a time no later).
            for (const { at, deleted } of deletions) {
              if (deleted.reason !== 'maxAgeMs') continue;
              expect(maxAgeMs).toBeDefined();
              for (let lsn = deleted.firstLsn; lsn <= (deleted.lastLsn ?? 0n); lsn++) {
                expect(times.get(lsn)!).toBeLessThan(at - maxAgeMs!);
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
              const positions = new Map(
                (await after.cursors()).map((info) => [info.name, info.lsn]),
              );
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
          } finally {
            unsubscribe('walnut:wal:retention', listen);
          }
        },
      ),
      { numRuns: 60 },
    );
  }, 120_000);
});
