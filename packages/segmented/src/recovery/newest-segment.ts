import { join } from 'node:path';
import { HEAD_FILE, isWalError, segmentFileName, WalError, WalErrorCode } from '@walnut/codec';
import type { StorageIo } from '@walnut/storage-io';
import { readHead } from '../files/head.js';
import { lsnsOfMissingNewest, type RecoveryLedger } from './recovery-ledger.js';
import type { RecoveryReport } from './recovery-report.js';

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
