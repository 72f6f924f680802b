import { badArgument } from './errors.js';
import { decodeLsnFile, encodeLsnFile } from './lsn-files.js';

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

/** A cursor file's bytes: the last LSN its consumer committed (0 for none yet). */
export function encodeCursor(lsn: bigint): Buffer {
  return encodeLsnFile(lsn);
}

/** The committed LSN a cursor file holds; WAL_CORRUPT naming `path` when its bytes do not check out. */
export function decodeCursor(bytes: Uint8Array, path: string): bigint {
  return decodeLsnFile(
    bytes,
    path,
    "a durable cursor's committed LSN",
    'Delete the cursor (walnut cursors <dir> --delete <name>) and let its consumer start again from a position it knows',
  );
}
