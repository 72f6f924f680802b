import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isWalError, WalErrorCode } from '../errors/errors.js';
import { decodeGaps, encodeGaps, gapsCover, type LsnGap, mergeGaps } from './lsn-gaps.js';

const gapArb = fc
  .tuple(fc.bigInt({ min: 1n, max: 1n << 40n }), fc.bigInt({ min: 0n, max: 1000n }))
  .map(([from, length]): LsnGap => ({ from, to: from + length }));

function expectCorrupt(fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    expect(isWalError(err, WalErrorCode.CORRUPT)).toBe(true);
    return;
  }
  throw new Error('expected WAL_CORRUPT');
}

describe('the GAPS file', () => {
  it('decodes to the merged gaps it was encoded from', () => {
    fc.assert(
      fc.property(fc.array(gapArb, { maxLength: 20 }), (gaps) => {
        const merged = mergeGaps(gaps);
        expect(decodeGaps(encodeGaps(merged), 'GAPS')).toEqual(merged);
      }),
    );
  });

  it('is refused as WAL_CORRUPT after any single flipped bit or a cut', () => {
    fc.assert(
      fc.property(
        fc.array(gapArb, { minLength: 1, maxLength: 8 }),
        fc.nat(),
        fc.integer({ min: 0, max: 7 }),
        (gaps, at, bit) => {
          const bytes = encodeGaps(mergeGaps(gaps));
          const flipped = Buffer.from(bytes);
          flipped[at % bytes.length]! ^= 1 << bit;
          expectCorrupt(() => decodeGaps(flipped, 'GAPS'));
          expectCorrupt(() => decodeGaps(bytes.subarray(0, at % bytes.length), 'GAPS'));
        },
      ),
    );
  });
});

describe('mergeGaps', () => {
  it('covers exactly the LSNs of its inputs, in sorted disjoint non-adjacent ranges', () => {
    fc.assert(
      fc.property(
        fc.array(
          gapArb.map((g) => ({
            from: (g.from % 200n) + 1n,
            to: (g.from % 200n) + 1n + ((g.to - g.from) % 20n),
          })),
          { maxLength: 10 },
        ),
        (gaps) => {
          const merged = mergeGaps(gaps);
          for (let i = 1; i < merged.length; i++)
            expect(merged[i]!.from > merged[i - 1]!.to + 1n).toBe(true);
          for (let lsn = 1n; lsn <= 230n; lsn++) {
            const inInput = gaps.some((g) => g.from <= lsn && lsn <= g.to);
            expect(gapsCover(merged, lsn, lsn)).toBe(inInput);
          }
        },
      ),
    );
  });
});

describe('gapsCover', () => {
  it('needs one gap holding the whole range', () => {
    const gaps = mergeGaps([
      { from: 10n, to: 19n },
      { from: 30n, to: 39n },
    ]);
    expect(gapsCover(gaps, 10n, 19n)).toBe(true);
    expect(gapsCover(gaps, 12n, 15n)).toBe(true);
    expect(gapsCover(gaps, 9n, 19n)).toBe(false);
    expect(gapsCover(gaps, 15n, 35n)).toBe(false);
    expect(gapsCover(gaps, 5n, 4n)).toBe(true);
  });
});
