import type { CoreEntry } from '@walnut/codec';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { mergeCoreEntries } from './merge.js';

function entry(coreId: number, sequence: number, epoch: number, timestampNs: bigint): CoreEntry {
  return {
    op: 'delete',
    key: Buffer.from(`${coreId}:${sequence}`),
    coreId,
    sequence: BigInt(sequence),
    epoch: BigInt(epoch),
    timestampNs,
  };
}

/** Per-core lists as writers produce them: sequences 1..n, epochs that never go back. */
const coreLists = (timestamps: fc.Arbitrary<bigint>) =>
  fc.integer({ min: 1, max: 4 }).chain((cores) =>
    fc.tuple(
      ...Array.from({ length: cores }, (_, coreId) =>
        fc.array(fc.tuple(fc.boolean(), timestamps), { maxLength: 30 }).map((steps) => {
          let epoch = 0;
          return steps.map(([bump, ts], i) => {
            if (bump) epoch++;
            return entry(coreId, i + 1, epoch, ts);
          });
        }),
      ),
    ),
  );

const anyTimestamps = fc.bigInt({ min: 0n, max: 50n });
const key = (e: CoreEntry) => `${e.coreId}:${e.sequence}`;

describe('mergeCoreEntries', () => {
  it('keeps every entry and each core’s own order, whatever the timestamps (a clock may step back)', () => {
    fc.assert(
      fc.property(coreLists(anyTimestamps), (lists) => {
        const merged = mergeCoreEntries(lists);
        expect(merged).toHaveLength(lists.reduce((n, l) => n + l.length, 0));
        for (const list of lists) {
          const core = list[0]?.coreId;
          expect(merged.filter((e) => e.coreId === core).map(key)).toEqual(list.map(key));
        }
      }),
    );
  });

  it('orders by epoch first', () => {
    fc.assert(
      fc.property(coreLists(anyTimestamps), (lists) => {
        const epochs = mergeCoreEntries(lists).map((e) => e.epoch);
        for (let i = 1; i < epochs.length; i++) expect(epochs[i]! >= epochs[i - 1]!).toBe(true);
      }),
    );
  });

  it('is deterministic: the order of the input lists does not matter', () => {
    fc.assert(
      fc.property(coreLists(anyTimestamps), fc.integer(), (lists, seed) => {
        const shuffled = [...lists].sort(
          (a, b) => ((a.length * 31 + seed) % 7) - ((b.length * 31 + seed) % 7),
        );
        expect(mergeCoreEntries(shuffled).map(key)).toEqual(mergeCoreEntries(lists).map(key));
      }),
    );
  });

  it('with per-core increasing timestamps (what writers produce) it is the sort by epoch, timestamp, core id', () => {
    const increasing = coreLists(fc.bigInt({ min: 1n, max: 5n })).map((lists) =>
      lists.map((list) => {
        let ts = 0n;
        return list.map((e) => {
          ts += e.timestampNs;
          return { ...e, timestampNs: ts };
        });
      }),
    );
    fc.assert(
      fc.property(increasing, (lists) => {
        const expected = lists
          .flat()
          .sort((a, b) =>
            a.epoch !== b.epoch
              ? Number(a.epoch - b.epoch)
              : a.timestampNs !== b.timestampNs
                ? Number(a.timestampNs - b.timestampNs)
                : a.coreId - b.coreId,
          );
        expect(mergeCoreEntries(lists).map(key)).toEqual(expected.map(key));
      }),
    );
  });

  it('breaks timestamp ties by core id', () => {
    const merged = mergeCoreEntries([[entry(1, 1, 0, 5n)], [entry(0, 1, 0, 5n)]]);
    expect(merged.map((e) => e.coreId)).toEqual([0, 1]);
  });
});
