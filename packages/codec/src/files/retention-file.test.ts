import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isWalError, WalErrorCode } from '../errors/errors.js';
import { decodeRetention, encodeRetention } from './retention-file.js';

const settingsArb = fc.record({
  maxBytes: fc.option(fc.nat({ max: Number.MAX_SAFE_INTEGER }), { nil: null }),
  maxSegments: fc.option(fc.nat(), { nil: null }),
  maxAgeMs: fc.option(fc.nat({ max: Number.MAX_SAFE_INTEGER }), { nil: null }),
  maxCursorLagBytes: fc.option(fc.nat({ max: Number.MAX_SAFE_INTEGER }), { nil: null }),
  intervalMs: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
  beforeDelete: fc.boolean(),
});

describe('the RETENTION file', () => {
  it('decodes to the settings it was encoded from', () => {
    fc.assert(
      fc.property(settingsArb, (settings) => {
        expect(decodeRetention(encodeRetention(settings), 'RETENTION')).toEqual(settings);
      }),
    );
  });

  it('is WAL_CORRUPT naming the file after any flipped bit', () => {
    fc.assert(
      fc.property(settingsArb, fc.nat(50 * 8 - 1), (settings, bit) => {
        const bytes = encodeRetention(settings);
        bytes[bit >> 3]! ^= 1 << (bit & 7);
        let error: unknown;
        try {
          decodeRetention(bytes, '/log/RETENTION');
        } catch (err) {
          error = err;
        }
        expect(isWalError(error, WalErrorCode.CORRUPT)).toBe(true);
        expect((error as Error).message).toContain('/log/RETENTION');
      }),
    );
  });
});
