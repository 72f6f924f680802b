import { isWalError, WalErrorCode, type WalRecordInput } from '@walnut/codec';
import { MemoryStorageIo } from '@walnut/storage-io';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { collect, DIR, openMemory } from '../../test/helpers.js';
import { SegmentedWal } from '../index.js';

/** One record as the property describes it; `sizes` > 1 makes its payload getter shift. */
interface RecordPlan {
  sizes: number[];
  meta: number | null;
  tenantId: bigint | null;
}

/** Mostly tiny payloads, so that a batch's record headers can outweigh its payload. */
const payloadSize = fc.oneof(fc.nat({ max: 8 }), fc.nat({ max: 300 }));

const recordPlan: fc.Arbitrary<RecordPlan> = fc.record({
  sizes: fc.oneof(
    { weight: 4, arbitrary: payloadSize.map((size) => [size]) },
    { weight: 1, arbitrary: fc.array(payloadSize, { minLength: 2, maxLength: 4 }) },
  ),
  meta: fc.option(fc.nat({ max: 40 })),
  tenantId: fc.option(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })),
});

/** Many records of a few bytes each: their headers can outweigh their payload. */
const tinyRecord: fc.Arbitrary<RecordPlan> = fc
  .nat({ max: 4 })
  .map((size) => ({ sizes: [size], meta: null, tenantId: null }));

const operation = fc.oneof(
  recordPlan.map((record) => ({ kind: 'append' as const, records: [record] })),
  fc
    .array(recordPlan, { minLength: 1, maxLength: 40 })
    .map((records) => ({ kind: 'batch' as const, records })),
  fc
    .array(tinyRecord, { minLength: 150, maxLength: 700 })
    .map((records) => ({ kind: 'batch' as const, records })),
);

/** The input for a plan; the payload of a shifting record is a getter over its sizes. */
function inputOf(plan: RecordPlan, fill: number): WalRecordInput {
  const fixed = {
    ...(plan.meta === null ? {} : { meta: Buffer.alloc(plan.meta, 0x6d) }),
    ...(plan.tenantId === null ? {} : { tenantId: plan.tenantId }),
  };
  if (plan.sizes.length === 1) return { payload: Buffer.alloc(plan.sizes[0]!, fill), ...fixed };
  let reads = 0;
  return {
    get payload() {
      return Buffer.alloc(plan.sizes[Math.min(reads++, plan.sizes.length - 1)]!, fill);
    },
    ...fixed,
  };
}

describe('appends that are refused or accepted', () => {
  it('never leave a log that reopens short of an accepted record', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 64, max: 4096 }),
        fc.array(operation, { minLength: 1, maxLength: 12 }),
        async (maxRecordSize, operations) => {
          const io = new MemoryStorageIo();
          const wal = await openMemory(io, { maxRecordSize });
          /** LSN → the payload it must replay with (null: a shifting record, any payload). */
          const accepted = new Map<bigint, Buffer | null>();
          let fill = 0;
          for (const op of operations) {
            const fills = op.records.map(() => (fill = (fill + 1) & 0xff));
            const inputs = op.records.map((plan, i) => inputOf(plan, fills[i]!));
            let last: bigint;
            try {
              last = op.kind === 'append' ? wal.append(inputs[0]!) : wal.appendBatch(inputs);
            } catch (error) {
              const expected =
                isWalError(error, WalErrorCode.BAD_ARGUMENT) ||
                isWalError(error, WalErrorCode.RECORD_TOO_LARGE);
              expect(expected, String(error)).toBe(true);
              continue;
            }
            const first = last - BigInt(op.records.length - 1);
            op.records.forEach((plan, i) => {
              const payload =
                plan.sizes.length === 1 ? Buffer.alloc(plan.sizes[0]!, fills[i]) : null;
              accepted.set(first + BigInt(i), payload);
            });
          }
          await wal.sync();
          await wal.close();
          const again = await SegmentedWal.open({ dir: DIR, io, maxRecordSize });
          const replayed = await collect(again.replay());
          await again.close();
          expect(replayed.map((r) => r.lsn)).toEqual([...accepted.keys()]);
          for (const record of replayed) {
            const payload = accepted.get(record.lsn);
            if (payload) expect(record.payload.equals(payload)).toBe(true);
          }
        },
      ),
      { numRuns: 60 },
    );
  });
});
