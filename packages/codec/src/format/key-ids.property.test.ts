import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isWalError, WalErrorCode } from '../errors/errors.js';
import { KeyRing } from './crypto.js';

const MAX_ID = 0xffffffff;
const key = Buffer.alloc(32, 3);

/** The one spelling of each id: what `String(id)` gives, for an id in range. */
function isCanonical(text: string): boolean {
  const n = Number(text);
  return String(n) === text && Number.isInteger(n) && n >= 0 && n <= MAX_ID;
}

const idText = fc.oneof(
  fc.string(),
  fc.integer({ min: 0, max: MAX_ID }).map(String),
  fc
    .tuple(
      fc.constantFrom('0', '00', ' ', '+', '-', '0x', ''),
      fc.nat(1000),
      fc.constantFrom('', ' ', 'e0', '.0'),
    )
    .map(([before, n, after]) => `${before}${n}${after}`),
);

describe('KeyRing ids written as object keys', () => {
  it('are accepted exactly in their one decimal spelling, each naming one key', () => {
    fc.assert(
      fc.property(idText, (text) => {
        let ring: KeyRing | undefined;
        try {
          ring = new KeyRing({ [text]: key } as Record<number, Uint8Array>, Number(text));
        } catch (error) {
          expect(isWalError(error, WalErrorCode.BAD_ARGUMENT)).toBe(true);
        }
        expect(ring !== undefined).toBe(isCanonical(text));
        if (ring !== undefined) expect(ring.key(Number(text))).toEqual(key);
      }),
    );
  });
});
