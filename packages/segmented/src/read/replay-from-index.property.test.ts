import { type WalRecordInput, zstdImplementation } from '@walnut/codec';
import { MemoryStorageIo } from '@walnut/storage-io';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { collect, DIR, testRing } from '../../test/helpers.js';
import { SegmentedWal, type SegmentedWalConfig } from '../index.js';

const canCompress = zstdImplementation().encoder !== null;

const configs: Partial<SegmentedWalConfig>[] = [
  { segmentTargetSize: 64 * 1024 },
  { segmentTargetSize: 16 * 1024, directIo: true },
  { segmentTargetSize: 64 * 1024, encryption: testRing() },
  ...(canCompress
    ? [{ segmentTargetSize: 64 * 1024, compression: { codec: 'zstd' } } as const]
    : []),
];

/** One step of a writer's life: frames appended (payload sizes; several make a batch), a cut, a reopen. */
const stepArb = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      frames: fc.array(fc.array(fc.integer({ min: 0, max: 900 }), { minLength: 1, maxLength: 3 }), {
        minLength: 1,
        maxLength: 60,
      }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ cutBack: fc.integer({ min: 0, max: 40 }) }) },
  { weight: 1, arbitrary: fc.constant({ reopen: true as const }) },
);

function payloadOf(lsn: bigint, size: number, history: number): Buffer {
  return Buffer.alloc(size, Number((lsn * 13n + BigInt(history)) % 251n));
}

/**
 * The log as a model: the payload of every LSN. Whatever the frame index holds (built by the
 * writer, by earlier reads, emptied by a reopen or cut back by a cut), a replay from any LSN
 * hands out exactly the model's records from it.
 */
describe('replays from any LSN with the frame index (decision 0344)', () => {
  it('hand out exactly the records from that LSN on, across rollovers, cuts and reopens', {
    timeout: 300_000,
  }, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...configs),
        fc.array(stepArb, { minLength: 1, maxLength: 8 }),
        fc.array(
          fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: 1, max: 50 })),
          {
            minLength: 1,
            maxLength: 6,
          },
        ),
        async (config, steps, reads) => {
          const io = new MemoryStorageIo();
          const open = () => SegmentedWal.open({ dir: DIR, io, writeBufferSize: 8192, ...config });
          let wal = await open();
          const model: Buffer[] = [];
          /** The last LSN of each frame: a cut keeps whole frames. */
          const frameEnds: number[] = [0];
          let history = 0;
          const check = async () => {
            await wal.sync();
            for (const [where, max] of reads) {
              const lsn = BigInt(1 + Math.floor(where * model.length));
              if (model.length === 0) break;
              const { records, hasMore } = await wal.replayFromLimit(lsn, max);
              const want = model.slice(Number(lsn) - 1, Number(lsn) - 1 + max);
              expect(records.map((r) => r.lsn)).toEqual(want.map((_, i) => lsn + BigInt(i)));
              expect(records.map((r) => r.payload)).toEqual(want);
              expect(hasMore).toBe(Number(lsn) - 1 + max < model.length);
              const all = await collect(wal.replayFrom(lsn));
              expect(all.map((r) => r.payload)).toEqual(model.slice(Number(lsn) - 1));
            }
          };
          try {
            for (const step of steps) {
              if ('frames' in step) {
                for (const sizes of step.frames) {
                  const first = BigInt(model.length + 1);
                  const records: WalRecordInput[] = sizes.map((s, i) => ({
                    payload: payloadOf(first + BigInt(i), s, history),
                  }));
                  if (records.length === 1) wal.append(records[0]!);
                  else wal.appendBatch(records);
                  for (const r of records) model.push(r.payload as Buffer);
                  frameEnds.push(model.length);
                }
              } else if ('cutBack' in step) {
                await wal.sync();
                const kept = Math.max(0, frameEnds.length - 1 - step.cutBack);
                frameEnds.length = kept + 1;
                await wal.truncateAfter(BigInt(frameEnds[kept]!));
                model.length = frameEnds[kept]!;
                history++;
              } else {
                await wal.close();
                wal = await open();
              }
              await check();
            }
          } finally {
            await wal.close();
          }
        },
      ),
      { numRuns: 12 },
    );
  });
});
