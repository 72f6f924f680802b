import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isWalError, WalErrorCode } from './errors.js';
import { decodeFloor, encodeFloor } from './floor-file.js';

describe('the FLOOR file', () => {
  it('decodes to the LSN it was encoded from', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 1n, max: (1n << 64n) - 1n }), (lsn) => {
        expect(decodeFloor(encodeFloor(lsn), 'FLOOR')).toBe(lsn);
      }),
    );
  });

  it('is WAL_CORRUPT naming the file after any flipped bit or a wrong size', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 1n, max: 1n << 40n }), fc.nat(95), (lsn, bit) => {
        const bytes = encodeFloor(lsn);
        bytes[bit >> 3]! ^= 1 << (bit & 7);
        for (const bad of [
          bytes,
          encodeFloor(lsn).subarray(0, 11),
          Buffer.concat([encodeFloor(lsn), Buffer.alloc(1)]),
        ]) {
          let error: unknown;
          try {
            decodeFloor(bad, '/log/FLOOR');
          } catch (err) {
            error = err;
          }
          expect(isWalError(error, WalErrorCode.CORRUPT)).toBe(true);
          expect((error as Error).message).toContain('/log/FLOOR');
        }
      }),
    );
  });
});
