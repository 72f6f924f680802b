import {
  classifyDamage,
  type DamageKind,
  FrameScanner,
  type LsnGap,
  lostWritesHoleEnd,
  WalError,
  WalErrorCode,
} from '@walnut/codec';
import { type IoFd, readFully, type StorageIo } from '@walnut/storage-io';

const CHUNK = 1024 * 1024;

/** What opening a 'records' file cut from its end (`PortableWalWriter.recovery`). */
export interface PortableRecovery {
  /** File offset the cut began at: the end of the last record kept. */
  offset: number;
  /** Bytes cut, from `offset` to the end the file had. */
  bytes: number;
  /**
   * - `'torn'`: no valid frame from `offset` on: a write a crash cut short.
   * - `'zeros'`: only zero bytes from `offset` on: space the file grew into whose writes
   *   never reached the disk.
   * - `'lost-writes'`: a hole of writes a power loss lost, followed by records written after
   *   it, cut with it as writes that were never synced (FORMAT.md, "Holes of lost writes").
   *   If they had been synced, this was damage on the disk, and `lostLsns` were acknowledged
   *   as durable: restore them from a copy.
   */
  kind: 'torn' | 'zeros' | 'lost-writes';
  reason: string;
  /**
   * `'lost-writes'` only: from the first LSN the file no longer holds to the highest LSN
   * of the records found right after the hole (records after further damage, counted in
   * `bytes`, may carry higher ones). Null for the other kinds: their bytes hold no record.
   */
  lostLsns: LsnGap | null;
}

export interface PortableScan {
  /** File offset just past the last valid frame: where appending continues. */
  end: number;
  nextLsn: bigint;
  /** What lies between `end` and the end of the file, to be cut; null when nothing does. */
  cut: PortableRecovery | null;
}

/**
 * Reads a 'records' portable file frame by frame, in chunks. A clean end, a torn tail or a
 * hole of writes a power loss lost followed by later ones it kept ends the scan (`cut` says
 * what the caller is to cut); other damage followed by a valid frame is mid-file corruption
 * and throws WAL_CORRUPT. With `stopAfter`, the scan ends right after the record of that LSN
 * (where a cut after it leaves the file). A frame may be as long as the format allows,
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
    return { end: headerLength, nextLsn: firstLsn, cut: null };
  let offset = headerLength;
  let nextLsn = firstLsn;
  let chunkSize = CHUNK;
  while (offset < size) {
    const buf = Buffer.allocUnsafe(Math.min(chunkSize, size - offset));
    const got = await readFully(io, fd, buf, offset);
    const chunkEnd = offset + got;
    // A short read is the file's real end.
    const reachesEnd = got < buf.length || chunkEnd >= size;
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
      if (record.lsn === stopAfter) return { end: scanner.offset, nextLsn, cut: null };
    }
    const stop = scanner.stop;
    if (!stop) break;
    // A chunk judges nothing at its end: a frame it cuts ('partial') and a frame ending
    // exactly there (which the scanner, its data ending there, takes for a clean end) are
    // read on in the next chunk.
    if (stop.kind === 'partial' || (stop.offset === chunkEnd && !reachesEnd)) {
      if (stop.offset === offset) chunkSize = Math.max(chunkSize * 2, stop.needed ?? 0);
      offset = stop.offset;
      continue;
    }
    if (stop.offset >= chunkEnd) return { end: stop.offset, nextLsn, cut: null };
    const rest = reachesEnd
      ? buf.subarray(stop.offset - offset, got)
      : await readRest(io, fd, stop.offset, size);
    // The scanner judged only this chunk, unless it found a valid frame in it after the
    // damage; otherwise what follows decides torn versus corrupt.
    const judged = reachesEnd || stop.kind === 'corrupt';
    const kind = judged ? stop.kind : classifyDamage(rest, 0);
    const damage = judged ? stop.reason : 'no valid frame here';
    return {
      end: stop.offset,
      nextLsn,
      cut: cutAt(path, rest, stop.offset, kind, damage, nextLsn),
    };
  }
  return { end: offset, nextLsn, cut: null };
}

async function readRest(io: StorageIo, fd: IoFd, offset: number, size: number): Promise<Buffer> {
  const rest = Buffer.allocUnsafe(size - offset);
  return rest.subarray(0, await readFully(io, fd, rest, offset));
}

/**
 * What to cut at `offset`, where the valid records end. A file is appended to and synced
 * from its end, so valid frames after a hole of lost writes (`lostWritesHoleEnd`) are taken
 * for unsynced writes a power loss kept without earlier ones: cut like a torn tail
 * (decision 0302's rule for a newest segment). Any other damage before a valid frame is
 * WAL_CORRUPT.
 */
function cutAt(
  path: string,
  rest: Buffer,
  offset: number,
  kind: DamageKind,
  damage: string,
  nextLsn: bigint,
): PortableRecovery {
  const bytes = rest.length;
  if (kind === 'eof') {
    return {
      offset,
      bytes,
      kind: 'zeros',
      reason: 'only zero bytes from here to the end of the file',
      lostLsns: null,
    };
  }
  if (kind === 'torn') {
    return {
      offset,
      bytes,
      kind: 'torn',
      reason: 'no valid frame from here to the end of the file (a write cut short)',
      lostLsns: null,
    };
  }
  const holeEnd = lostWritesHoleEnd(rest, 0, offset);
  if (holeEnd < 0) throw corruptAt(path, offset, damage);
  return {
    offset,
    bytes,
    kind: 'lost-writes',
    reason: `${holeEnd} bytes with zeros where writes never arrived (lost by a power loss, or synced data the disk zeroed), then ${bytes - holeEnd} bytes of records written after them`,
    lostLsns: { from: nextLsn, to: highestLsnFrom(rest, holeEnd, offset, nextLsn) },
  };
}

/** The highest LSN of the records from `rest[index]` on, up to the first stop; `floor` if none is higher. */
function highestLsnFrom(rest: Buffer, index: number, restOffset: number, floor: bigint): bigint {
  let highest = floor;
  const scanner = new FrameScanner(rest, { start: index, baseOffset: restOffset });
  try {
    for (let record = scanner.nextRecord(); record; record = scanner.nextRecord())
      if (record.lsn > highest) highest = record.lsn;
  } catch {
    // A frame that checks out but holds no record ends the run like damage does.
  }
  return highest;
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
    const chunkEnd = offset + got;
    const reachesEnd = got < buf.length || chunkEnd >= size;
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
    // Only the chunk's end, where it judges nothing, is read on from (as when opening).
    if (reachesEnd || (stop.kind !== 'partial' && stop.offset !== chunkEnd)) return null;
    if (stop.offset === offset) chunkSize = Math.max(chunkSize * 2, stop.needed ?? 0);
    offset = stop.offset;
  }
  return nextLsn;
}
