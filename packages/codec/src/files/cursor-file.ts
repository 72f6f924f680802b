import { crc32c } from '../crc/crc32c.js';
import { badArgument, WalError, WalErrorCode } from '../errors/errors.js';

/** The subdirectory of a log directory holding its durable cursors (FORMAT.md "Log directory"). */
export const CURSOR_DIR = 'cursors';

/** A cursor `<name>` is the file `cursors/<name>.cursor`. */
export const CURSOR_FILE_SUFFIX = '.cursor';

/** The holder of cursor `<name>` keeps an exclusive lock on `cursors/<name>.lock`. */
export const CURSOR_LOCK_SUFFIX = '.lock';

/**
 * Letters, digits, `_` and `-`, 1 to 64 of them: a name that is one file name on every file
 * system, never `.` or `..`, and never mistaken for the temporary or lock file beside it.
 */
const CURSOR_NAME = /^[A-Za-z0-9_-]{1,64}$/;

/** Throws WAL_BAD_ARGUMENT unless `name` can name a durable cursor. */
export function checkCursorName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || !CURSOR_NAME.test(name)) {
    badArgument('cursor name', '1 to 64 letters, digits, _ or - (e.g. "billing")', name);
  }
}

/** The cursor's file name inside `CURSOR_DIR`. */
export function cursorFileName(name: string): string {
  return `${name}${CURSOR_FILE_SUFFIX}`;
}

/** The cursor a file in `CURSOR_DIR` holds, or null for any other file (temporary, lock). */
export function cursorNameOf(fileName: string): string | null {
  if (!fileName.endsWith(CURSOR_FILE_SUFFIX)) return null;
  const name = fileName.slice(0, -CURSOR_FILE_SUFFIX.length);
  return CURSOR_NAME.test(name) ? name : null;
}

/** What a cursor file holds. */
export interface CursorPosition {
  /** The last LSN the cursor's consumer committed (0 for none yet). */
  readonly lsn: bigint;
  /**
   * The log's suffix-cut generation (the CUT file's) the position belongs to: a cursor of
   * an older generation above that cut's `afterLsn` is past the cut (WAL_TRUNCATED).
   */
  readonly generation: bigint;
}

/** A position as one slot of a cursor file holds it. */
export interface CursorSlot extends CursorPosition {
  /** Counts the slot writes of this file: the valid slot with the higher one is the position. */
  readonly sequence: bigint;
}

/** What `decodeCursor` found: the position, and where the next in-place write goes. */
export interface DecodedCursor extends CursorSlot {
  /**
   * `slots`: the slotted layout, updated in place. `whole`: the 20-byte layout of the
   * first cursor release, replaced as a whole (written anew in the slotted layout) by the
   * next commit.
   */
  readonly layout: 'slots' | 'whole';
  /** The slot holding the position (0 or 1; 0 for the whole-file layout). */
  readonly slot: 0 | 1;
}

/** The first release's layout: lsn u64, generation u64, then the CRC32C of those 16 bytes. */
const WHOLE_FILE_SIZE = 20;

/** ASCII `WLCS`, the first bytes of a valid slot. */
const SLOT_MAGIC = 0x53434c57;

/** magic u32, lsn u64, generation u64, sequence u64, then the CRC32C of those 28 bytes. */
export const CURSOR_SLOT_SIZE = 32;

/**
 * Slot 1 starts a page after slot 0: writing one slot never rewrites the page (or sector)
 * of the other, so a torn write can only damage the slot it was writing.
 */
export const CURSOR_SLOT_STRIDE = 4096;

/** A slotted cursor file: slot 0, zeros up to slot 1, slot 1. */
export const CURSOR_FILE_SIZE = CURSOR_SLOT_STRIDE + CURSOR_SLOT_SIZE;

/** Where slot `slot` starts in a cursor file. */
export function cursorSlotOffset(slot: 0 | 1): number {
  return slot * CURSOR_SLOT_STRIDE;
}

/** One slot's bytes. */
export function encodeCursorSlot(slot: CursorSlot): Buffer {
  const buf = Buffer.alloc(CURSOR_SLOT_SIZE);
  buf.writeUInt32LE(SLOT_MAGIC, 0);
  buf.writeBigUInt64LE(slot.lsn, 4);
  buf.writeBigUInt64LE(slot.generation, 12);
  buf.writeBigUInt64LE(slot.sequence, 20);
  buf.writeUInt32LE(crc32c(buf.subarray(0, 28)), 28);
  return buf;
}

/** A new cursor file's bytes: `position` in slot 0, slot 1 empty (zeros, never valid). */
export function encodeCursorFile(position: CursorSlot): Buffer {
  const buf = Buffer.alloc(CURSOR_FILE_SIZE);
  encodeCursorSlot(position).copy(buf, cursorSlotOffset(0));
  return buf;
}

function slotAt(b: Buffer, offset: number): CursorSlot | null {
  if (b.readUInt32LE(offset) !== SLOT_MAGIC) return null;
  if (b.readUInt32LE(offset + 28) !== crc32c(b.subarray(offset, offset + 28))) return null;
  return {
    lsn: b.readBigUInt64LE(offset + 4),
    generation: b.readBigUInt64LE(offset + 12),
    sequence: b.readBigUInt64LE(offset + 20),
  };
}

/**
 * The position a cursor file holds — in the slotted layout the valid slot with the higher
 * sequence, in the first release's 20-byte layout its one position — or null when no slot
 * of a slotted file is valid (a reader racing two writes of the holder may see that: read
 * again). WAL_CORRUPT naming `path` when the file has neither layout's size, or its
 * 20-byte position does not check out.
 */
export function decodeCursor(bytes: Uint8Array, path: string): DecodedCursor | null {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b.length === CURSOR_FILE_SIZE) {
    const first = slotAt(b, cursorSlotOffset(0));
    const second = slotAt(b, cursorSlotOffset(1));
    if (second !== null && (first === null || second.sequence > first.sequence)) {
      return { ...second, layout: 'slots', slot: 1 };
    }
    return first === null ? null : { ...first, layout: 'slots', slot: 0 };
  }
  if (b.length === WHOLE_FILE_SIZE && b.readUInt32LE(16) === crc32c(b.subarray(0, 16))) {
    const lsn = b.readBigUInt64LE(0);
    return { lsn, generation: b.readBigUInt64LE(8), sequence: 0n, layout: 'whole', slot: 0 };
  }
  throw cursorCorrupt(path, b.length);
}

/** WAL_CORRUPT for a cursor file whose bytes hold no position. */
export function cursorCorrupt(path: string, length: number): WalError {
  return new WalError(
    WalErrorCode.CORRUPT,
    `${path} is damaged (${length} bytes, checksum mismatch or wrong size); it holds a durable cursor's committed LSN. Delete the cursor (walnut cursors <dir> --delete <name>) and let its consumer start again from a position it knows`,
    { details: { segment: path, offset: 0 } },
  );
}
