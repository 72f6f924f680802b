import { join } from 'node:path';
import {
  decodeHead,
  encodeHead,
  HEAD_FILE,
  isWalError,
  segmentFileName,
  WalError,
  WalErrorCode,
} from '@walnut/codec';
import type { StorageIo } from '@walnut/storage-io';
import { lsnsOfMissingNewest, type RecoveryLedger } from '../recovery/recovery-ledger.js';
import type { RecoveryReport } from '../recovery/recovery-report.js';
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

/**
 * HEAD as recovery reads it: a damaged HEAD is WAL_CORRUPT, except to salvage, which goes
 * on without it and reports it (the writer then writes it again from the segments found).
 */
export async function readHeadForRecovery(
  io: StorageIo,
  dir: string,
  salvaging: boolean,
  report: RecoveryReport,
): Promise<bigint | null> {
  try {
    return await readHead(io, dir);
  } catch (err) {
    if (!salvaging || !isWalError(err, WalErrorCode.CORRUPT)) throw err;
    const path = join(dir, HEAD_FILE);
    report.salvaged.push({
      segment: path,
      offset: 0,
      bytes: (await io.stat(path))?.size ?? 0,
      reason: `${err.message} (rewritten from the segments found)`,
      lostLsns: null,
    });
    return null;
  }
}

/**
 * HEAD naming a later segment than any found means the newest segment is gone, with
 * records that may have been acknowledged: WAL_MISSING_SEGMENT, unless GAPS lists its
 * first LSN (an earlier salvage retired it). Salvage retires every LSN it could have held.
 */
export function checkNewestSegment(
  ledger: RecoveryLedger,
  dir: string,
  salvaging: boolean,
  found: { head: bigint | null; newestFirstLsn: bigint | undefined; lastLsn: bigint },
): void {
  const { head, newestFirstLsn, lastLsn } = found;
  if (head === null || (newestFirstLsn !== undefined && newestFirstLsn >= head)) return;
  if (ledger.recorded(head, head)) return;
  const missing = join(dir, segmentFileName(head));
  const after =
    newestFirstLsn === undefined
      ? 'no segment'
      : `the newest segment found starts at LSN ${newestFirstLsn}`;
  if (!salvaging) {
    throw new WalError(
      WalErrorCode.MISSING_SEGMENT,
      `the log's HEAD says its newest segment starts at LSN ${head}, but ${after}: ${missing} is missing, and records after LSN ${lastLsn} that may have been acknowledged with it. Restore it from a backup, or open with recovery: 'salvage' to retire every LSN it could have held (none is handed out again) and keep every other record`,
      { details: { segment: missing, offset: 0, missingFrom: lastLsn + 1n } },
    );
  }
  const lost = lsnsOfMissingNewest(lastLsn + 1n, head);
  ledger.lose({
    segment: missing,
    offset: 0,
    bytes: 0,
    reason: `HEAD names it as the newest segment, but ${after}; LSNs ${lost.from}..${lost.to} are retired`,
    lostLsns: lost,
  });
}
