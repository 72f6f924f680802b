import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isWalError, WalErrorCode } from '../errors/errors.js';
import {
  CUT_FILE,
  decodeCut,
  encodeCut,
  lowestCutSince,
  RECENT_CUTS,
  type SuffixCut,
  sameCut,
} from './cut-file.js';

const cutArb: fc.Arbitrary<SuffixCut> = fc.record({
  afterLsn: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
  segmentFirstLsn: fc.bigInt({ min: 1n, max: 2n ** 64n - 1n }),
  keepBytes: fc.integer({ min: 64, max: Number.MAX_SAFE_INTEGER }),
  generation: fc.bigInt({ min: 1n, max: 2n ** 64n - 1n }),
  state: fc.constantFrom('pending' as const, 'done' as const),
  recent: fc.array(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), {
    minLength: 1,
    maxLength: RECENT_CUTS,
  }),
});

describe('the CUT file', () => {
  it('decodes to the cut it was encoded from', () => {
    fc.assert(
      fc.property(cutArb, (cut) => {
        const bytes = encodeCut(cut);
        expect(bytes.length).toBe(48 + 8 * cut.recent!.length);
        expect(decodeCut(bytes, CUT_FILE)).toEqual(cut);
      }),
    );
  });

  it('is WAL_CORRUPT, naming the file, when any bit flips or a byte is missing', () => {
    fc.assert(
      fc.property(cutArb, fc.nat(), (cut, at) => {
        const bytes = encodeCut(cut);
        const bit = at % (bytes.length * 8);
        bytes[bit >> 3]! ^= 1 << (bit & 7);
        expect(() => decodeCut(bytes, '/log/CUT')).toThrow(/\/log\/CUT is damaged/);
        expect(() => decodeCut(encodeCut(cut).subarray(0, 39), 'CUT')).toThrow(/39 bytes/);
      }),
    );
  });

  it('still reads a file of the first release (40 bytes, no recent cuts)', () => {
    const first = encodeCut({
      afterLsn: 7n,
      segmentFirstLsn: 5n,
      keepBytes: 300,
      generation: 3n,
      state: 'done',
    }).subarray(0, 40);
    const cut = decodeCut(first, 'CUT');
    expect(cut).toMatchObject({ afterLsn: 7n, generation: 3n, recent: [] });
    expect(lowestCutSince(cut, 2n)).toBeNull();
  });

  it('tells the lowest cut since a generation while it remembers every one of them', () => {
    const cut = decodeCut(
      encodeCut({
        afterLsn: 900n,
        segmentFirstLsn: 1n,
        keepBytes: 64,
        generation: 10n,
        state: 'done',
        recent: [300n, 500n, 800n, 900n],
      }),
      'CUT',
    );
    expect(lowestCutSince(cut, 9n)).toBe(900n);
    expect(lowestCutSince(cut, 8n)).toBe(800n);
    expect(lowestCutSince(cut, 6n)).toBe(300n);
    expect(lowestCutSince(cut, 5n)).toBeNull();
    expect(lowestCutSince(cut, 10n)).toBeNull();
  });

  it('reads the same before and after a look only when no cut ran or began in between', () => {
    const done: SuffixCut = {
      afterLsn: 5n,
      segmentFirstLsn: 1n,
      keepBytes: 64,
      generation: 3n,
      state: 'done',
    };
    expect(sameCut(null, null)).toBe(true);
    expect(sameCut(done, { ...done, recent: [5n] })).toBe(true);
    expect(sameCut(null, done)).toBe(false);
    expect(sameCut(done, { ...done, generation: 4n, state: 'pending' })).toBe(false);
    // A crashed writer's cut finished by the next one: same generation, another state.
    expect(sameCut({ ...done, state: 'pending' }, done)).toBe(false);
  });

  it('keeps only the last RECENT_CUTS cuts', () => {
    const recent = Array.from({ length: RECENT_CUTS + 5 }, (_, i) => BigInt(i));
    const cut = { afterLsn: 1n, segmentFirstLsn: 1n, keepBytes: 64, generation: 99n };
    const decoded = decodeCut(encodeCut({ ...cut, state: 'done', recent }), 'CUT');
    expect(decoded.recent).toEqual(recent.slice(-RECENT_CUTS));
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
    expect(bytes.readUInt32LE(40)).toBe(1);
    expect(bytes.readBigUInt64LE(44)).toBe(7n);
    expect(bytes.length).toBe(56);
    try {
      bytes[32] = 3;
      decodeCut(bytes, 'CUT');
      expect.unreachable();
    } catch (err) {
      expect(isWalError(err, WalErrorCode.CORRUPT)).toBe(true);
    }
  });
});
