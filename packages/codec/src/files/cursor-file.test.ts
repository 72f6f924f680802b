import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { crc32c } from '../crc/crc32c.js';
import { isWalError, WalErrorCode } from '../errors/errors.js';
import {
  CURSOR_FILE_SIZE,
  CURSOR_SLOT_SIZE,
  type CursorSlot,
  checkCursorName,
  cursorFileName,
  cursorNameOf,
  cursorSlotOffset,
  decodeCursor,
  encodeCursorFile,
  encodeCursorSlot,
} from './cursor-file.js';

const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
const slotArb = fc.record({
  lsn: u64,
  generation: u64,
  sequence: fc.bigInt({ min: 1n, max: 1n << 40n }),
});

function corruptError(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  return undefined;
}

/** The first release's 20-byte cursor file (no writer produces it any more). */
function wholeFile(lsn: bigint, generation: bigint): Buffer {
  const b = Buffer.alloc(20);
  b.writeBigUInt64LE(lsn, 0);
  b.writeBigUInt64LE(generation, 8);
  b.writeUInt32LE(crc32c(b.subarray(0, 16)), 16);
  return b;
}

describe('a slotted cursor file', () => {
  it('decodes, as created, to the position in slot 0', () => {
    fc.assert(
      fc.property(slotArb, (slot) => {
        expect(decodeCursor(encodeCursorFile(slot), 'c.cursor')).toEqual({
          ...slot,
          layout: 'slots',
          slot: 0,
        });
      }),
    );
  });

  it('decodes to the valid slot with the higher sequence', () => {
    fc.assert(
      fc.property(slotArb, slotArb, (a, b) => {
        const file = encodeCursorFile(a);
        encodeCursorSlot(b).copy(file, cursorSlotOffset(1));
        const newer = b.sequence > a.sequence ? { ...b, slot: 1 } : { ...a, slot: 0 };
        expect(decodeCursor(file, 'c.cursor')).toEqual({ ...newer, layout: 'slots' });
      }),
    );
  });

  it('after any run of in-place commits and a torn or garbled last write, holds the last or the one before', () => {
    // The holder writes the slot not holding the last durable position, so the damage of a
    // power cut during a write stays in that slot.
    fc.assert(
      fc.property(
        fc.array(fc.record({ lsn: u64, generation: u64 }), { minLength: 1, maxLength: 12 }),
        fc.oneof(
          fc.record({ kind: fc.constant('cut' as const), keep: fc.nat(CURSOR_SLOT_SIZE) }),
          fc.record({
            kind: fc.constant('garble' as const),
            bytes: fc.uint8Array({ minLength: CURSOR_SLOT_SIZE, maxLength: CURSOR_SLOT_SIZE }),
          }),
        ),
        (positions, damage) => {
          const committed: CursorSlot[] = [{ ...positions[0]!, sequence: 1n }];
          const file = encodeCursorFile(committed[0]!);
          let slot: 0 | 1 = 0;
          for (const [i, position] of positions.slice(1).entries()) {
            slot = slot === 0 ? 1 : 0;
            const next = { ...position, sequence: BigInt(i + 2) };
            encodeCursorSlot(next).copy(file, cursorSlotOffset(slot));
            committed.push(next);
          }
          // The write that the power cut caught: the next slot, a prefix of it on disk or garbage.
          const torn = slot === 0 ? 1 : 0;
          const attempted = { lsn: 7n, generation: 0n, sequence: BigInt(committed.length + 1) };
          const bytes = encodeCursorSlot(attempted);
          const at = cursorSlotOffset(torn);
          if (damage.kind === 'cut') bytes.subarray(0, damage.keep).copy(file, at);
          else Buffer.from(damage.bytes).copy(file, at);
          const found = decodeCursor(file, 'c.cursor');
          const last = committed.at(-1)!;
          const whole = damage.kind === 'cut' && damage.keep === CURSOR_SLOT_SIZE;
          const { layout: _layout, slot: _slot, ...position } = found!;
          expect(position).toEqual(whole ? attempted : last);
        },
      ),
    );
  });

  it('with no valid slot decodes to null (a reader racing two writes reads again)', () => {
    expect(decodeCursor(Buffer.alloc(CURSOR_FILE_SIZE), 'c.cursor')).toBeNull();
  });

  it('is WAL_CORRUPT naming the file and the way out with any other size', () => {
    const file = encodeCursorFile({ lsn: 5n, generation: 0n, sequence: 1n });
    for (const bad of [
      file.subarray(0, 12),
      file.subarray(0, CURSOR_FILE_SIZE - 1),
      Buffer.alloc(0),
    ]) {
      const error = corruptError(() => decodeCursor(bad, '/log/cursors/billing.cursor'));
      expect(isWalError(error, WalErrorCode.CORRUPT)).toBe(true);
      expect((error as Error).message).toContain('/log/cursors/billing.cursor');
      expect((error as Error).message).toContain('walnut cursors');
    }
  });
});

describe("a cursor file of the first release's 20-byte layout", () => {
  it('still decodes to its committed LSN and cut generation, to be written whole next', () => {
    fc.assert(
      fc.property(u64, u64, (lsn, generation) => {
        expect(decodeCursor(wholeFile(lsn, generation), 'c.cursor')).toEqual({
          lsn,
          generation,
          sequence: 0n,
          layout: 'whole',
          slot: 0,
        });
      }),
    );
  });

  it('is WAL_CORRUPT after any flipped bit', () => {
    fc.assert(
      fc.property(u64, fc.nat(159), (lsn, bit) => {
        const bytes = wholeFile(lsn, 3n);
        bytes[bit >> 3]! ^= 1 << (bit & 7);
        const error = corruptError(() => decodeCursor(bytes, '/log/cursors/billing.cursor'));
        expect(isWalError(error, WalErrorCode.CORRUPT)).toBe(true);
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
