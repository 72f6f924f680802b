import { crc32c } from './crc32c.js';
import { badArgument, WalError, WalErrorCode } from './errors.js';

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

/** lsn u64, generation u64, then the CRC32C of those 16 bytes (u32). */
const CURSOR_FILE_SIZE = 20;

/** A cursor file's bytes. */
export function encodeCursor(position: CursorPosition): Buffer {
  const buf = Buffer.alloc(CURSOR_FILE_SIZE);
  buf.writeBigUInt64LE(position.lsn, 0);
  buf.writeBigUInt64LE(position.generation, 8);
  buf.writeUInt32LE(crc32c(buf.subarray(0, 16)), 16);
  return buf;
}

/** The position a cursor file holds; WAL_CORRUPT naming `path` when its bytes do not check out. */
export function decodeCursor(bytes: Uint8Array, path: string): CursorPosition {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b.length !== CURSOR_FILE_SIZE || b.readUInt32LE(16) !== crc32c(b.subarray(0, 16))) {
    throw new WalError(
      WalErrorCode.CORRUPT,
      `${path} is damaged (${b.length} bytes, checksum mismatch or wrong size); it holds a durable cursor's committed LSN. Delete the cursor (walnut cursors <dir> --delete <name>) and let its consumer start again from a position it knows`,
      { details: { segment: path, offset: 0 } },
    );
  }
  return { lsn: b.readBigUInt64LE(0), generation: b.readBigUInt64LE(8) };
}
