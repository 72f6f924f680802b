import { join } from 'node:path';
import { decodeFloor, encodeFloor, FLOOR_FILE, isWalError, WalErrorCode } from '@walnut/codec';
import type { StorageIo } from '@walnut/storage-io';
import { readSmallFile, removeIfPresent, tmpName, writeFileAtomically } from './log-files.js';

export const FLOOR_TMP_FILE = tmpName(FLOOR_FILE);

/** The retained floor recorded in `<dir>/FLOOR`, or null when there is none. */
export async function readFloor(io: StorageIo, dir: string): Promise<bigint | null> {
  const bytes = await readSmallFile(io, dir, FLOOR_FILE, 64);
  return bytes === null ? null : decodeFloor(bytes, join(dir, FLOOR_FILE));
}

/** Writes the floor atomically (a crash leaves the old floor or the new one). */
export async function writeFloor(io: StorageIo, dir: string, lsn: bigint): Promise<void> {
  await writeFileAtomically(io, dir, FLOOR_FILE, encodeFloor(lsn));
}

/**
 * Records `lsn` as the floor before the segments below it are deleted, so that a crash in
 * between leaves files the next open removes, never what looks like a missing segment.
 * On a device too full for even the new FLOOR, removes FLOOR (and the temporary file)
 * instead and returns false: the floor is then the first segment's first LSN, which
 * deleting segments oldest first keeps true at every step, and `writeFloorIfSpace` after
 * the deletions records it again.
 */
export async function recordFloorBeforeDeleting(
  io: StorageIo,
  dir: string,
  lsn: bigint,
): Promise<boolean> {
  try {
    await writeFloor(io, dir, lsn);
    return true;
  } catch (error) {
    if (!isWalError(error, WalErrorCode.NO_SPACE)) throw error;
    await removeIfPresent(io, join(dir, FLOOR_TMP_FILE));
    await removeIfPresent(io, join(dir, FLOOR_FILE));
    await io.syncDirectory(dir);
    return false;
  }
}

/** Writes the floor if the device has room now; without it the log stays whole, only unrecorded. */
export async function writeFloorIfSpace(io: StorageIo, dir: string, lsn: bigint): Promise<void> {
  try {
    await writeFloor(io, dir, lsn);
  } catch (error) {
    if (!isWalError(error, WalErrorCode.NO_SPACE)) throw error;
    await removeIfPresent(io, join(dir, FLOOR_TMP_FILE));
  }
}
