import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  checkCursorName,
  cursorFileName,
  cursorNameOf,
  decodeCursor,
  encodeCursor,
} from './cursor-file.js';
import { isWalError, WalErrorCode } from './errors.js';

describe('a cursor file', () => {
  const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });

  it('decodes to the committed LSN and cut generation it was encoded from, 0 included', () => {
    fc.assert(
      fc.property(u64, u64, (lsn, generation) => {
        expect(decodeCursor(encodeCursor({ lsn, generation }), 'c.cursor')).toEqual({
          lsn,
          generation,
        });
      }),
    );
  });

  it('is WAL_CORRUPT naming the file and the way out after any flipped bit or a wrong size', () => {
    fc.assert(
      fc.property(u64, fc.nat(159), (lsn, bit) => {
        const bytes = encodeCursor({ lsn, generation: 3n });
        bytes[bit >> 3]! ^= 1 << (bit & 7);
        for (const bad of [bytes, encodeCursor({ lsn, generation: 3n }).subarray(0, 12)]) {
          let error: unknown;
          try {
            decodeCursor(bad, '/log/cursors/billing.cursor');
          } catch (err) {
            error = err;
          }
          expect(isWalError(error, WalErrorCode.CORRUPT)).toBe(true);
          expect((error as Error).message).toContain('/log/cursors/billing.cursor');
          expect((error as Error).message).toContain('walnut cursors');
        }
      }),
    );
  });
});

describe('cursor names', () => {
  it('are letters, digits, _ and -, 1 to 64 of them', () => {
    for (const good of ['billing', 'a', 'consumer-2', 'A_b-9', 'x'.repeat(64)]) {
      expect(() => checkCursorName(good)).not.toThrow();
    }
  });

  it('refuse anything that is not one plain file name, with WAL_BAD_ARGUMENT', () => {
    for (const bad of ['', '.', '..', 'a/b', 'a.tmp', 'x'.repeat(65), 'é', ' a', 42, undefined]) {
      let error: unknown;
      try {
        checkCursorName(bad);
      } catch (err) {
        error = err;
      }
      expect(isWalError(error, WalErrorCode.BAD_ARGUMENT)).toBe(true);
    }
  });

  it('map to a file name and back, and other files map to no cursor', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/), (name) => {
        expect(cursorNameOf(cursorFileName(name))).toBe(name);
      }),
    );
    for (const other of ['billing.cursor.tmp', 'billing.lock', 'billing.lock.pid', '.cursor']) {
      expect(cursorNameOf(other)).toBeNull();
    }
  });
});
