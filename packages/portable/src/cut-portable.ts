import { decodeFileHeader, FILE_HEADER_SIZE, WalError, WalErrorCode } from '@walnut/codec';
import { readFully } from '@walnut/storage-io';
import type { PortableFile } from './portable-file.js';
import { scanPortableRecords } from './scan-portable.js';

/** Where a cut left the file: its new end, and the next LSN. */
export interface PortableCut {
  end: number;
  nextLsn: bigint;
  recordsRemoved: bigint;
}

/**
 * Cuts a 'records' file after the record of `lsn`: finds that record's end by scanning from
 * the header, truncates there and fdatasyncs — one size change, so a power loss leaves the
 * file before or after the cut (docs/decisions/0640). `end` and `nextLsn` are the writer's
 * position and next LSN before the cut.
 */
export async function cutPortableAfter(
  file: PortableFile,
  end: number,
  nextLsn: bigint,
  lsn: bigint,
): Promise<PortableCut> {
  const { path } = file;
  const last = nextLsn - 1n;
  if (lsn > last) {
    throw new WalError(
      WalErrorCode.BAD_ARGUMENT,
      `cannot cut ${path} after LSN ${lsn}: its last record is LSN ${last}`,
      { details: { lsn, lastLsn: last } },
    );
  }
  if (lsn === last) return { end, nextLsn, recordsRemoved: 0n };
  const headerBytes = Buffer.alloc(FILE_HEADER_SIZE);
  await readFully(file.io, file.fd, headerBytes, 0);
  const header = decodeFileHeader(headerBytes, path);
  if (lsn < header.firstLsn - 1n) {
    throw new WalError(
      WalErrorCode.BAD_ARGUMENT,
      `cannot cut ${path} after LSN ${lsn}: its first record is LSN ${header.firstLsn}; cut after ${header.firstLsn - 1n} to remove every record`,
      { details: { lsn } },
    );
  }
  const scan = await scanPortableRecords(
    file.io,
    file.fd,
    path,
    end,
    header.headerLength,
    header.firstLsn,
    lsn,
  );
  if (scan.nextLsn !== lsn + 1n) {
    // Opening read every record up to this writer's end; not finding one now means the
    // file changed under the writer.
    throw new WalError(
      WalErrorCode.CORRUPT,
      `cannot cut ${path} after LSN ${lsn}: reading it found no record of that LSN (its records end at offset ${scan.end}), so the file changed since it was opened; nothing was cut — close it and open it again`,
      { details: { segment: path, offset: scan.end, lsn } },
    );
  }
  await file.truncate(scan.end);
  await file.datasync();
  return { end: scan.end, nextLsn: lsn + 1n, recordsRemoved: last - lsn };
}
