import { isWalError, WalErrorCode } from '@walnut/codec';
import {
  type Fault,
  FaultyStorageIo,
  MemoryStorageIo,
  UnorderedStorageIo,
} from '@walnut/storage-io';
import { payloadFor, RecordingStorageIo } from '@walnut/storage-io/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { collect, DIR } from '../../test/helpers.js';
import { SegmentedWal } from '../index.js';

type Op =
  | { kind: 'append'; size: number }
  | { kind: 'sync' }
  | { kind: 'tick' }
  | { kind: 'fault'; fault: Fault }
  | { kind: 'free' };

const faultArb: fc.Arbitrary<Fault> = fc.oneof(
  fc.record({
    kind: fc.constant('short-write' as const),
    nth: fc.integer({ min: 1, max: 3 }),
    bytes: fc.nat(3000),
  }),
  fc.record({
    kind: fc.constant('eio' as const),
    op: fc.constantFrom('write' as const, 'fdatasync' as const),
    nth: fc.integer({ min: 1, max: 4 }),
  }),
  fc.record({ kind: fc.constant('enospc' as const), afterBytes: fc.nat(20_000) }),
);

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({ kind: fc.constant('append' as const), size: fc.nat(1500) }),
  },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('sync' as const) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('tick' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('fault' as const), fault: faultArb }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('free' as const) }) },
);

const spaceArb = fc.constantFrom(
  {},
  { zeroFillAhead: 8192 },
  { writebackAhead: 4096 },
  { directIo: true },
  { directIo: true, zeroFillAhead: 8192 },
);

const tick = () => new Promise<void>((r) => setImmediate(r));

/** The codes a failed call of a log under I/O faults may carry: poisoned, or rolled back. */
function expectFailure(error: unknown): 'poisoned' | 'no-space' {
  expect(isWalError(error), String(error)).toBe(true);
  const code = (error as { code: string }).code;
  expect([WalErrorCode.POISONED, WalErrorCode.NO_SPACE]).toContain(code);
  return code === WalErrorCode.POISONED ? 'poisoned' : 'no-space';
}

describe('the write path under I/O faults (property: faulty backend, overlap watch)', () => {
  it('short writes are finished, EIO poisons, ENOSPC rolls back; every synced record reads back', {
    timeout: 120_000,
  }, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(opArb, { minLength: 1, maxLength: 60 }),
        fc.nat(),
        spaceArb,
        fc.option(fc.nat(), { nil: undefined }),
        fc.boolean(),
        async (ops, seed, space, orderSeed, reorder) => {
          const memory = new MemoryStorageIo();
          const faulty = new FaultyStorageIo(memory, { seed });
          // Half the cases run independent operations in a random order, as io_uring may.
          const io = new RecordingStorageIo(
            orderSeed === undefined ? faulty : new UnorderedStorageIo(faulty, { seed: orderSeed }),
          );
          const config = { dir: DIR, writeBufferSize: 4096, segmentTargetSize: 16_384, ...space };
          const wal = await SegmentedWal.open({ ...config, io });
          const appended = new Map<bigint, Buffer>();
          let acked = 0n;
          let poisoned = false;
          for (const op of ops) {
            if (op.kind === 'append') {
              const lsn = wal.nextLsn;
              const payload = payloadFor(lsn + BigInt(seed), op.size);
              try {
                wal.append({ payload });
                appended.set(lsn, payload);
              } catch (error) {
                if (expectFailure(error) === 'poisoned') poisoned = true;
              }
            } else if (op.kind === 'sync') {
              try {
                const durable = await wal.sync();
                if (durable > acked) acked = durable;
              } catch (error) {
                if (expectFailure(error) === 'poisoned') poisoned = true;
              }
            } else if (op.kind === 'tick') {
              await tick();
            } else if (op.kind === 'fault') {
              faulty.inject(op.fault);
            } else {
              faulty.clearFaults();
            }
          }
          faulty.clearFaults();
          // Once space is free and a rollback has ended, a log that is not poisoned goes on.
          let last: bigint | null = null;
          for (let attempt = 0; attempt < 20 && last === null; attempt++) {
            try {
              const lsn = wal.nextLsn;
              const payload = payloadFor(lsn + BigInt(seed), 10);
              wal.append({ payload });
              appended.set(lsn, payload);
              last = await wal.sync();
              acked = last;
            } catch (error) {
              if (expectFailure(error) === 'poisoned') {
                poisoned = true;
                break;
              }
              await tick();
            }
          }
          expect(last !== null || poisoned).toBe(true);
          expect(io.violations).toEqual([]);
          // The power goes: what was acknowledged survives, whatever else was lost or torn.
          await faulty.crash({ tear: true, reorder });
          await wal.close().catch(() => {});

          const after = await SegmentedWal.open({ ...config, io: memory });
          const recs = await collect(after.replay());
          expect(after.nextLsn - 1n).toBeGreaterThanOrEqual(acked);
          recs.forEach((r, i) => {
            expect(r.lsn).toBe(1n + BigInt(i));
            expect(r.payload.equals(appended.get(r.lsn)!)).toBe(true);
          });
          await after.close();
        },
      ),
      {
        numRuns: 300,
        interruptAfterTimeLimit: 90_000,
        examples: [
          // A rollback's cut that a power loss undid brought back the refused append's frame
          // under LSN 1, which the next append (refused too, EIO) had taken.
          [
            [
              { kind: 'fault', fault: { kind: 'enospc', afterBytes: 512 } },
              { kind: 'append', size: 0 },
              { kind: 'sync' },
              { kind: 'append', size: 1 },
              { kind: 'fault', fault: { kind: 'eio', op: 'write', nth: 1 } },
              { kind: 'sync' },
            ],
            0,
            { directIo: true },
            undefined,
            false,
          ],
        ],
      },
    );
  });
});
