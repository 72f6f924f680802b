import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isWalError, WalErrorCode } from '../errors/errors.js';
import { CUT_FILE, decodeCut, encodeCut, type SuffixCut } from './cut-file.js';

const cutArb: fc.Arbitrary<SuffixCut> = fc.record({
  afterLsn: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
  segmentFirstLsn: fc.bigInt({ min: 1n, max: 2n ** 64n - 1n }),
  keepBytes: fc.integer({ min: 64, max: Number.MAX_SAFE_INTEGER }),
  generation: fc.bigInt({ min: 1n, max: 2n ** 64n - 1n }),
  state: fc.constantFrom('pending' as const, 'done' as const),
});

describe('the CUT file', () => {
  it('decodes to the cut it was encoded from', () => {
    fc.assert(
      fc.property(cutArb, (cut) => {
        const bytes = encodeCut(cut);
        expect(bytes.length).toBe(40);
        expect(decodeCut(bytes, CUT_FILE)).toEqual(cut);
      }),
    );
  });

  it('is WAL_CORRUPT, naming the file, when any bit flips or a byte is missing', () => {
    fc.assert(
      fc.property(cutArb, fc.integer({ min: 0, max: 40 * 8 - 1 }), (cut, bit) => {
        const bytes = encodeCut(cut);
        bytes[bit >> 3]! ^= 1 << (bit & 7);
        expect(() => decodeCut(bytes, '/log/CUT')).toThrow(/\/log\/CUT is damaged/);
        expect(() => decodeCut(encodeCut(cut).subarray(0, 39), 'CUT')).toThrow(/39 bytes/);
      }),
    );
  });

  it('lays out its fields as FORMAT.md says', () => {
    const bytes = encodeCut({
      afterLsn: 7n,
      segmentFirstLsn: 5n,
      keepBytes: 300,
      generation: 2n,
      state: 'done',
    });
    expect(bytes.readBigUInt64LE(0)).toBe(7n);
    expect(bytes.readBigUInt64LE(8)).toBe(5n);
    expect(bytes.readBigUInt64LE(16)).toBe(300n);
    expect(bytes.readBigUInt64LE(24)).toBe(2n);
    expect(bytes[32]).toBe(2);
    try {
      bytes[32] = 3;
      decodeCut(bytes, 'CUT');
      expect.unreachable();
    } catch (err) {
      expect(isWalError(err, WalErrorCode.CORRUPT)).toBe(true);
    }
  });
});
