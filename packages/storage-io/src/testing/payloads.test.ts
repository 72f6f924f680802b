import { expectWalError } from '@walnut/codec/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { payloadFor, payloadNumber } from './payloads.js';

const n = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });
const size = fc.integer({ min: 8, max: 600 });
/** Long enough that the filler, not luck, decides (see payloads.ts). */
const checkedSize = fc.integer({ min: 24, max: 600 });

describe('payloadFor and payloadNumber', () => {
  it('give back the record number of any payload of 8 bytes or more', () => {
    fc.assert(
      fc.property(n, size, (id, length) => {
        const payload = payloadFor(id, length);
        expect(payload.length).toBe(length);
        expect(payloadNumber(payload)).toBe(id);
        expect(payloadNumber(new Uint8Array(payload))).toBe(id);
      }),
      { numRuns: 500 },
    );
  });

  it('take a number or a bigint alike, 32 bytes by default', () => {
    expect(payloadFor(7).equals(payloadFor(7n, 32))).toBe(true);
    expect(payloadFor(7n, 40).subarray(0, 8)).toEqual(Buffer.from([7, 0, 0, 0, 0, 0, 0, 0]));
  });

  it('refuse a payload with any byte changed, cut short or lengthened', () => {
    fc.assert(
      fc.property(
        n,
        checkedSize,
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        (id, length, at, mask) => {
          const payload = payloadFor(id, length);
          const flipped = Buffer.from(payload);
          flipped[at % length]! ^= mask;
          expect(payloadNumber(flipped)).toBeNull();
          expect(payloadNumber(payload.subarray(0, length - 1))).toBeNull();
          expect(payloadNumber(Buffer.concat([payload, Buffer.alloc(1)]))).toBeNull();
        },
      ),
      { numRuns: 500 },
    );
  });

  it("never mistakes one record's payload for another's of the same length", () => {
    fc.assert(
      fc.property(n, n, checkedSize, (a, b, length) => {
        fc.pre(a !== b);
        expect(payloadFor(a, length).equals(payloadFor(b, length))).toBe(false);
      }),
      { numRuns: 500 },
    );
  });

  it('writes a prefix of the number below 8 bytes, which it cannot read back', () => {
    expect(payloadFor(0x0102n, 2)).toEqual(Buffer.from([2, 1]));
    expect(payloadFor(5, 0).length).toBe(0);
    expect(payloadNumber(payloadFor(5, 7))).toBeNull();
  });

  it('refuses a number it cannot write in 8 bytes, or a size that is no length, with WAL_BAD_ARGUMENT', () => {
    for (const n of [-1, 2n ** 64n, -1n, 1.5, Number.MAX_SAFE_INTEGER + 2, Number.NaN]) {
      expectWalError(() => payloadFor(n), 'WAL_BAD_ARGUMENT');
    }
    for (const size of [-1, 2.5, Number.NaN]) {
      expectWalError(() => payloadFor(1, size), 'WAL_BAD_ARGUMENT');
    }
    expect(payloadNumber(payloadFor(2n ** 64n - 1n))).toBe(2n ** 64n - 1n);
  });
});
