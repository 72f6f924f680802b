import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isWalError, WalErrorCode } from '../errors/errors.js';
import { decodeFloor, decodeHead, encodeFloor, encodeHead } from './lsn-files.js';

const files = [
  { name: 'FLOOR', encode: encodeFloor, decode: decodeFloor },
  { name: 'HEAD', encode: encodeHead, decode: decodeHead },
];

describe.each(files)('the $name file', ({ name, encode, decode }) => {
  it('decodes to the LSN it was encoded from', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 1n, max: (1n << 64n) - 1n }), (lsn) => {
        expect(decode(encode(lsn), name)).toBe(lsn);
      }),
    );
  });

  it('is WAL_CORRUPT naming the file after any flipped bit or a wrong size', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 1n, max: 1n << 40n }), fc.nat(95), (lsn, bit) => {
        const bytes = encode(lsn);
        bytes[bit >> 3]! ^= 1 << (bit & 7);
        for (const bad of [
          bytes,
          encode(lsn).subarray(0, 11),
          Buffer.concat([encode(lsn), Buffer.alloc(1)]),
        ]) {
          let error: unknown;
          try {
            decode(bad, `/log/${name}`);
          } catch (err) {
            error = err;
          }
          expect(isWalError(error, WalErrorCode.CORRUPT)).toBe(true);
          expect((error as Error).message).toContain(`/log/${name}`);
        }
      }),
    );
  });
});
