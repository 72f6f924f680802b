import { join } from 'node:path';
import { decodeHead, encodeHead, HEAD_FILE, isWalError, WalErrorCode } from '@walnut/codec';
import type { StorageIo } from '@walnut/storage-io';
import { readSmallFile, removeIfPresent, tmpName, writeFileAtomically } from './log-files.js';

export const HEAD_TMP_FILE = tmpName(HEAD_FILE);

/**
 * The first LSN of the newest segment a writer created, from `<dir>/HEAD`; null when there
 * is none (a log written before HEAD existed, or whose last HEAD update found the disk full).
 */
export async function readHead(io: StorageIo, dir: string): Promise<bigint | null> {
  const bytes = await readSmallFile(io, dir, HEAD_FILE, 64);
  return bytes === null ? null : decodeHead(bytes, join(dir, HEAD_FILE));
}

/**
 * Records `firstLsn` as the newest segment's, once that segment is renamed into place and
 * the directory fsynced (docs/decisions/0322): HEAD never names a segment that might not
 * be there. On a device too full for the new HEAD, the old one stays: it names an older
 * segment, which is never a false alarm, and only the loss of this segment would go
 * unnoticed, until the next rollover records a newer one.
 */
export async function recordHead(io: StorageIo, dir: string, firstLsn: bigint): Promise<void> {
  try {
    await writeFileAtomically(io, dir, HEAD_FILE, encodeHead(firstLsn));
  } catch (error) {
    if (!isWalError(error, WalErrorCode.NO_SPACE)) throw error;
    await removeIfPresent(io, join(dir, HEAD_TMP_FILE));
  }
}
