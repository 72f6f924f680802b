import {
  classifyDamage,
  FrameScanner,
  lostWritesHoleEnd,
  WalError,
  WalErrorCode,
} from '@walnut/codec';
import { type IoFd, readFully, type StorageIo } from '@walnut/storage-io';

const CHUNK = 1024 * 1024;

export interface PortableScan {
  /** File offset just past the last valid frame: where appending continues. */
  end: number;
  nextLsn: bigint;
}

/**
 * Reads a 'records' portable file frame by frame, in chunks. A clean end or a torn tail
 * ends the scan (the caller cuts the tail), as does a hole of writes a power loss lost
 * followed by later ones it kept; other damage followed by a valid frame is mid-file
 * corruption and throws WAL_CORRUPT. With `stopAfter`, the scan ends right after
 * the record of that LSN (where a cut after it leaves the file). A frame may be as long as the format allows,
 * whatever maxRecordSize this run was given: it limits new appends, not what is read.
 */
export async function scanPortableRecords(
  io: StorageIo,
  fd: IoFd,
  path: string,
  size: number,
  headerLength: number,
  firstLsn: bigint,
  stopAfter?: bigint,
): Promise<PortableScan> {
  if (stopAfter !== undefined && stopAfter < firstLsn)
    return { end: headerLength, nextLsn: firstLsn };
  let offset = headerLength;
  let nextLsn = firstLsn;
  let chunkSize = CHUNK;
  while (offset < size) {
    const length = Math.min(chunkSize, size - offset);
    const buf = Buffer.allocUnsafe(length);
    const got = await readFully(io, fd, buf, offset);
    const reachesEnd = offset + got >= size;
    const scanner = new FrameScanner(buf.subarray(0, got), {
      baseOffset: offset,
      chunked: !reachesEnd,
    });
    for (let record = scanner.nextRecord(); record; record = scanner.nextRecord()) {
      if (record.lsn !== nextLsn) {
        throw new WalError(
          WalErrorCode.CORRUPT,
          `${path}: record LSN ${record.lsn} where ${nextLsn} was expected; the file is damaged — copy out what you need and start a new file`,
          { details: { segment: path, offset: scanner.offset } },
        );
      }
      nextLsn += 1n;
      if (record.lsn === stopAfter) return { end: scanner.offset, nextLsn };
    }
    const stop = scanner.stop;
    if (!stop) break;
    if ((stop.kind as string) === 'partial') {
      if (stop.offset === offset)
        chunkSize = Math.max(chunkSize * 2, (stop as { needed?: number }).needed ?? 0);
      offset = stop.offset;
      continue;
    }
    if (stop.kind === 'corrupt') {
      if (!isLostWrites(buf.subarray(stop.offset - offset, got), stop.offset))
        throw corruptAt(path, stop.offset, stop.reason);
    } else if (!reachesEnd) {
      // The scanner judged only this chunk; what follows decides torn versus corrupt.
      const rest = Buffer.allocUnsafe(size - stop.offset);
      const bytes = rest.subarray(0, await readFully(io, fd, rest, stop.offset));
      if (classifyDamage(bytes, 0) === 'corrupt' && !isLostWrites(bytes, stop.offset))
        throw corruptAt(path, stop.offset, stop.reason);
    }
    return { end: stop.offset, nextLsn };
  }
  return { end: offset, nextLsn };
}

/**
 * A file is appended to and synced from its end, so valid frames after a hole of lost
 * writes (`lostWritesHoleEnd`) are of unsynced writes a power loss kept without earlier
 * ones: a torn tail, cut like any other (decision 0302's rule for a newest segment).
 */
function isLostWrites(rest: Buffer, fileOffset: number): boolean {
  return lostWritesHoleEnd(rest, 0, fileOffset) >= 0;
}

function corruptAt(path: string, offset: number, reason: string): WalError {
  return new WalError(
    WalErrorCode.CORRUPT,
    `${path} is damaged at offset ${offset} (${reason}) with valid records after it; copy out what you need and start a new file`,
    { details: { segment: path, offset } },
  );
}

/**
 * The LSN after the last record of a 'raw' portable file when it holds nothing but whole
 * checksummed records in LSN order; null when anything else is in it (raw bytes, damage, a
 * torn record): raw bytes cannot be parsed, so the next LSN is then unknown. Never changes
 * the file.
 */
export async function nextLsnOfRecordsOnly(
  io: StorageIo,
  fd: IoFd,
  size: number,
  headerLength: number,
  firstLsn: bigint,
): Promise<bigint | null> {
  let offset = headerLength;
  let nextLsn = firstLsn;
  let chunkSize = CHUNK;
  while (offset < size) {
    const buf = Buffer.allocUnsafe(Math.min(chunkSize, size - offset));
    const got = await readFully(io, fd, buf, offset);
    const scanner = new FrameScanner(buf.subarray(0, got), {
      baseOffset: offset,
      chunked: true,
    });
    try {
      for (let record = scanner.nextRecord(); record; record = scanner.nextRecord()) {
        if (record.lsn !== nextLsn) return null;
        nextLsn += 1n;
      }
    } catch {
      return null; // a frame that checks out but is not a record: raw bytes, or damage
    }
    const stop = scanner.stop;
    if (stop === null || stop.offset >= size) break;
    if (stop.kind !== 'partial' || offset + got >= size) return null;
    if (stop.offset === offset)
      chunkSize = Math.max(chunkSize * 2, (stop as { needed?: number }).needed ?? 0);
    offset = stop.offset;
  }
  return nextLsn;
}
