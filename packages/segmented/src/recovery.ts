import { join } from 'node:path';
import {
  BodyKind,
  classifyDamage,
  decodeFileHeader,
  FILE_HEADER_SIZE,
  type FileHeader,
  FrameCipher,
  findNextValidFrame,
  isWalError,
  type KeyRing,
  parseSegmentFileName,
  type ScanStop,
  WalError,
  WalErrorCode,
} from '@walnut/codec';
import { type IoFd, readFully, type StorageIo } from '@walnut/storage-io';
import { scanChunks } from './chunk-reader.js';
import type { RecoveryMode } from './config.js';
import { FLOOR_TMP_FILE, readFloor } from './floor.js';

/** A segment as recovery found it. */
export interface RecoveredSegment {
  path: string;
  firstLsn: bigint;
  header: FileHeader;
  /** LSN of its last record; firstLsn - 1 when it holds none. */
  lastLsn: bigint;
  /** File offset after its last valid frame. */
  dataEnd: number;
  /** Size of the file (larger than dataEnd for a preallocated segment). */
  fileSize: number;
}

/** A torn tail open() found: the remains of a write interrupted by a crash. */
export interface TornTail {
  segment: string;
  offset: number;
  /** Bytes from `offset` to the end of the file that were (or, read-only, would be) cut. */
  bytes: number;
  reason: string;
  /** False for a read-only opener, which reports but never modifies. */
  cut: boolean;
}

/** What salvage recovery dropped to keep the valid prefix. */
export interface SalvageDrop {
  segment: string;
  /** Offset of the first dropped byte (0 for a whole segment). */
  offset: number;
  bytes: number;
  reason: string;
  /** Where a writer moved a dropped whole segment (it never deletes them). */
  movedTo?: string;
}

export interface RecoveryReport {
  mode: RecoveryMode;
  readOnly: boolean;
  /** Segments in the log after recovery. */
  segments: number;
  /** Records found in them (including any below the floor in the first segment). */
  records: number;
  floorLsn: bigint;
  /** Highest LSN in the log after recovery, 0n when empty. */
  lastLsn: bigint;
  tornTail: TornTail | null;
  salvaged: SalvageDrop[];
  /** Leftovers a writer removed: unfinished segment creations, segments below the floor. */
  removedFiles: string[];
}

export interface RecoveryResult {
  segments: RecoveredSegment[];
  floorLsn: bigint;
  nextLsn: bigint;
  report: RecoveryReport;
}

export interface RecoveryOptions {
  io: StorageIo;
  dir: string;
  mode: RecoveryMode;
  readOnly: boolean;
  ring: KeyRing | undefined;
  maxFrameBody: number;
}

interface Damage {
  offset: number;
  kind: 'torn' | 'corrupt';
  reason: string;
}

function corruptError(path: string, offset: number, reason: string, advice: string): WalError {
  return new WalError(
    WalErrorCode.CORRUPT,
    `${path} is damaged at offset ${offset}: ${reason}. ${advice}`,
    {
      details: { segment: path, offset, reason },
    },
  );
}

const CORRUPT_ADVICE =
  "Valid data follows the damage, so this is not a torn write; restore the log from a replica or backup, or open with recovery: 'salvage' to keep only the records before it";

/** The cipher that decrypts a segment, or WAL_KEY_MISSING naming it. */
export function readCipher(
  ring: KeyRing | undefined,
  header: FileHeader,
  path: string,
): FrameCipher | undefined {
  if (header.cipher === 'none') return undefined;
  if (ring === undefined) {
    throw new WalError(
      WalErrorCode.KEY_MISSING,
      `${path} is encrypted (key id ${header.keyId}); open the log with encryption: a KeyRing holding that key`,
      { details: { segment: path, keyId: header.keyId } },
    );
  }
  try {
    return FrameCipher.forFile(ring, header);
  } catch (err) {
    if (isWalError(err)) err.details.segment ??= path;
    throw err;
  }
}

export async function readHeader(
  io: StorageIo,
  fd: IoFd,
  path: string,
  firstLsn: bigint,
): Promise<FileHeader> {
  const buf = Buffer.alloc(FILE_HEADER_SIZE);
  const got = await readFully(io, fd, buf, 0);
  const header = decodeFileHeader(buf.subarray(0, got), path);
  if (header.fileKind !== 'segment') {
    throw corruptError(
      path,
      0,
      `the header says it is a ${header.fileKind} file, not a segment`,
      'Remove files that do not belong to the log',
    );
  }
  if (header.firstLsn !== firstLsn) {
    throw corruptError(
      path,
      8,
      `the header's first LSN ${header.firstLsn} does not match the file name`,
      'The file was renamed or damaged',
    );
  }
  return header;
}

const SECTOR = 512;

function isZero(bytes: Buffer, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (bytes[i] !== 0) return false;
  return true;
}

/**
 * Whether the damage at the start of `bytes` (file offset `fileOffset`), followed by a
 * valid frame at index `next`, is the mark of writes a crash lost rather than of damage:
 * unsynced writes can reach the disk out of order, and a write that never arrived reads
 * as zeros (a hole). So: a zero frame header, or a whole zero sector before the next
 * valid frame. A bit flip never zeroes a frame header or a sector.
 */
function looksLikeLostWrites(bytes: Buffer, fileOffset: number, next: number): boolean {
  if (next >= 8 && isZero(bytes, 0, 8)) return true;
  for (
    let s = Math.ceil(fileOffset / SECTOR) * SECTOR - fileOffset;
    s + SECTOR <= next;
    s += SECTOR
  ) {
    if (isZero(bytes, s, s + SECTOR)) return true;
  }
  return false;
}

interface Verdict {
  kind: 'eof' | 'torn' | 'corrupt';
  reason?: string;
}

/**
 * Judges the bytes from `offset` to the end of the file: zeros, a torn write, or damage
 * before valid frames. In the last segment, a hole left by lost unsynced writes followed
 * by frames of later (equally unsynced) writes is a torn tail too.
 */
async function judgeRest(
  io: StorageIo,
  fd: IoFd,
  offset: number,
  fileSize: number,
  maxFrameBody: number,
  isLast: boolean,
): Promise<Verdict> {
  if (offset >= fileSize) return { kind: 'eof' };
  // The rest of one segment is at most its target size plus one frame: reading it whole
  // is bounded, and it is the only way to tell a torn write from damage before valid frames.
  const rest = Buffer.allocUnsafeSlow(fileSize - offset);
  const got = await readFully(io, fd, rest, offset);
  const bytes = rest.subarray(0, got);
  // A frame whose CRC matches but which the scanner refused has a malformed body: a
  // writer of this format never produces one, so it is damage, not a torn write.
  if (findNextValidFrame(bytes, 0, maxFrameBody) === 0) return { kind: 'corrupt' };
  const kind = classifyDamage(bytes, 0, maxFrameBody);
  if (kind !== 'corrupt' || !isLast) return { kind };
  const next = findNextValidFrame(bytes, 1, maxFrameBody);
  if (looksLikeLostWrites(bytes, offset, next)) {
    return {
      kind: 'torn',
      reason: `a zero-filled hole (writes lost by a crash) followed by ${got - next} bytes from offset ${offset + next} written after it and never made durable`,
    };
  }
  return { kind };
}

const TWO_32 = 2 ** 32;

interface ScanResult {
  lastLsn: bigint;
  records: number;
  dataEnd: number;
  damage: Damage | null;
}

async function scanSegment(
  opts: RecoveryOptions,
  fd: IoFd,
  path: string,
  header: FileHeader,
  fileSize: number,
  isLast: boolean,
): Promise<ScanResult> {
  const cipher = readCipher(opts.ring, header, path);
  // The next LSN expected, as two 32-bit halves: compared with a frame's LSN field word by
  // word, it costs no bigint per frame (recovery reads every frame of the log on open).
  let low = Number(header.firstLsn & 0xffffffffn);
  let high = Number(header.firstLsn >> 32n);
  const expected = () => (BigInt(high) << 32n) + BigInt(low);
  let records = 0;
  const walk = scanChunks({
    io: opts.io,
    fd,
    path,
    start: FILE_HEADER_SIZE,
    end: fileSize,
    maxFrameBody: opts.maxFrameBody,
    cipher,
  });
  let step = await walk.next();
  while (step.done !== true) {
    const scanner = step.value;
    for (;;) {
      try {
        if (!scanner.advanceFrame()) break;
      } catch (err) {
        if (isWalError(err)) err.details.segment ??= path;
        throw err;
      }
      // The fixed header of the body says which LSNs it holds, without decoding records
      // (recovery only needs continuity; replay decodes and validates every record).
      const buf = scanner.frameBuffer;
      const start = scanner.frameBodyStart;
      const length = scanner.frameBodyEnd - start;
      const kind = buf[start];
      if (kind === BodyKind.PADDING) continue;
      let count = 0;
      let lsnAt = 0;
      if (kind === BodyKind.RECORD && length >= 12) {
        count = 1;
        lsnAt = start + 4;
      } else if (kind === BodyKind.BATCH && length >= 16) {
        count = buf.readUInt32LE(start + 4);
        lsnAt = start + 8;
      }
      const offset = scanner.frameOffset;
      if (count === 0) {
        await walk.return({ kind: 'corrupt', offset, reason: '' });
        return {
          lastLsn: expected() - 1n,
          records,
          dataEnd: offset,
          damage: {
            offset,
            kind: 'corrupt',
            reason: `a frame of kind ${kind} (or a malformed one) where records were expected`,
          },
        };
      }
      if (buf.readUInt32LE(lsnAt) !== low || buf.readUInt32LE(lsnAt + 4) !== high) {
        await walk.return({ kind: 'corrupt', offset, reason: '' });
        return {
          lastLsn: expected() - 1n,
          records,
          dataEnd: offset,
          damage: {
            offset,
            kind: 'corrupt',
            reason: `a valid frame holds LSN ${buf.readBigUInt64LE(lsnAt)} where LSN ${expected()} was expected`,
          },
        };
      }
      low += count;
      if (low >= TWO_32) {
        high += Math.floor(low / TWO_32);
        low %= TWO_32;
      }
      records += count;
    }
    step = await walk.next();
  }
  const stop: ScanStop = step.value;
  const lastLsn = expected() - 1n;
  if (stop.kind === 'eof' && stop.offset >= fileSize) {
    return { lastLsn, records, dataEnd: stop.offset, damage: null };
  }
  const verdict = await judgeRest(opts.io, fd, stop.offset, fileSize, opts.maxFrameBody, isLast);
  if (verdict.kind === 'eof') return { lastLsn, records, dataEnd: stop.offset, damage: null };
  return {
    lastLsn,
    records,
    dataEnd: stop.offset,
    damage: { offset: stop.offset, kind: verdict.kind, reason: verdict.reason ?? stop.reason },
  };
}

/**
 * Opens a log directory the way DESIGN.md's durability contract says: a torn tail is cut
 * and the cut fsynced (reported, not cut, when read-only); damage followed by valid data
 * is WAL_CORRUPT unless salvaging; a missing middle segment is WAL_MISSING_SEGMENT.
 */
export async function recoverLog(opts: RecoveryOptions): Promise<RecoveryResult> {
  const { io, dir, mode, readOnly } = opts;
  const report: RecoveryReport = {
    mode,
    readOnly,
    segments: 0,
    records: 0,
    floorLsn: 0n,
    lastLsn: 0n,
    tornTail: null,
    salvaged: [],
    removedFiles: [],
  };
  let dirChanged = false;
  const names = await io.readdir(dir);
  const found: { name: string; firstLsn: bigint }[] = [];
  for (const name of names) {
    const lsn = parseSegmentFileName(name);
    if (lsn !== null) {
      found.push({ name, firstLsn: lsn });
    } else if (
      !readOnly &&
      (name === FLOOR_TMP_FILE ||
        /^\d{20}\.wal\.tmp$/.test(name) ||
        /^spare-[0-9a-f]{16}\.tmp$/.test(name))
    ) {
      // An interrupted segment creation or floor update, or a file opened ahead for the next
      // segment: never renamed into place, so never part of the log.
      await io.unlink(join(dir, name));
      report.removedFiles.push(join(dir, name));
      dirChanged = true;
    }
  }
  found.sort((a, b) => (a.firstLsn < b.firstLsn ? -1 : a.firstLsn > b.firstLsn ? 1 : 0));

  const recordedFloor = await readFloor(io, dir);
  // Segments wholly below the floor are leftovers of an interrupted truncateBefore.
  if (recordedFloor !== null) {
    while (found.length > 1 && found[1]!.firstLsn <= recordedFloor) {
      const gone = found.shift()!;
      if (!readOnly) {
        await io.unlink(join(dir, gone.name));
        report.removedFiles.push(join(dir, gone.name));
        dirChanged = true;
      }
    }
  }
  const first = found[0];
  const floorLsn = recordedFloor ?? first?.firstLsn ?? 1n;
  if (first !== undefined && first.firstLsn > floorLsn) {
    throw new WalError(
      WalErrorCode.MISSING_SEGMENT,
      `the log's floor is LSN ${floorLsn} but its first segment ${first.name} starts at ${first.firstLsn}: the segment holding LSNs ${floorLsn}..${first.firstLsn - 1n} is missing. Restore it from a backup`,
      {
        details: {
          segment: join(dir, first.name),
          floorLsn,
          missingFrom: floorLsn,
          missingTo: first.firstLsn - 1n,
        },
      },
    );
  }

  const segments: RecoveredSegment[] = [];
  const dropFrom = async (index: number, reason: string): Promise<void> => {
    for (let j = index; j < found.length; j++) {
      const path = join(dir, found[j]!.name);
      const st = await io.stat(path);
      const drop: SalvageDrop = { segment: path, offset: 0, bytes: st?.size ?? 0, reason };
      if (!readOnly) {
        drop.movedTo = `${path}.dropped`;
        await io.rename(path, drop.movedTo);
        dirChanged = true;
      }
      report.salvaged.push(drop);
    }
  };

  for (let i = 0; i < found.length; i++) {
    const { name, firstLsn } = found[i]!;
    const path = join(dir, name);
    const isLast = i === found.length - 1;
    const prev = segments[segments.length - 1];
    if (prev !== undefined && firstLsn !== prev.lastLsn + 1n) {
      if (mode === 'salvage') {
        await dropFrom(i, `segment ${name} does not continue LSN ${prev.lastLsn}`);
        break;
      }
      if (firstLsn > prev.lastLsn + 1n) {
        throw new WalError(
          WalErrorCode.MISSING_SEGMENT,
          `${prev.path} ends at LSN ${prev.lastLsn} but the next segment ${name} starts at ${firstLsn}: LSNs ${prev.lastLsn + 1n}..${firstLsn - 1n} are missing. Restore the missing segment, or open with recovery: 'salvage' to keep the log up to LSN ${prev.lastLsn}`,
          {
            details: {
              segment: path,
              offset: 0,
              missingFrom: prev.lastLsn + 1n,
              missingTo: firstLsn - 1n,
            },
          },
        );
      }
      throw corruptError(
        path,
        0,
        `it starts at LSN ${firstLsn} but ${prev.path} already holds LSNs up to ${prev.lastLsn}`,
        CORRUPT_ADVICE,
      );
    }
    const fd = await io.open(path, readOnly ? { readOnly: true } : {});
    let open = true;
    const closeOnce = async (): Promise<void> => {
      if (open) {
        open = false;
        await io.close(fd);
      }
    };
    try {
      const fileSize = await io.size(fd);
      let header: FileHeader;
      try {
        header = await readHeader(io, fd, path, firstLsn);
      } catch (err) {
        if (mode === 'salvage' && isWalError(err, WalErrorCode.CORRUPT)) {
          await closeOnce();
          await dropFrom(i, `unreadable header: ${err.message}`);
          break;
        }
        throw err;
      }
      const scan = await scanSegment(opts, fd, path, header, fileSize, isLast);
      report.records += scan.records;
      const seg: RecoveredSegment = {
        path,
        firstLsn,
        header,
        lastLsn: scan.lastLsn,
        dataEnd: scan.dataEnd,
        fileSize,
      };
      const damage = scan.damage;
      const tornTail = damage !== null && damage.kind === 'torn' && isLast;
      if (damage !== null && !tornTail && mode !== 'salvage') {
        throw corruptError(path, damage.offset, damage.reason, CORRUPT_ADVICE);
      }
      if (tornTail && mode === 'strict') {
        throw corruptError(
          path,
          damage.offset,
          `${damage.reason} (a torn tail: the remains of a write interrupted by a crash)`,
          "recovery: 'strict' refuses to cut it; open with recovery: 'truncate-tail' to cut it off",
        );
      }
      if (damage !== null) {
        const bytes = fileSize - damage.offset;
        if (tornTail) {
          report.tornTail = {
            segment: path,
            offset: damage.offset,
            bytes,
            reason: damage.reason,
            cut: !readOnly,
          };
        } else {
          report.salvaged.push({
            segment: path,
            offset: damage.offset,
            bytes,
            reason: damage.reason,
          });
        }
        if (!readOnly) {
          await io.truncate(fd, damage.offset);
          await io.fsync(fd);
          seg.fileSize = damage.offset;
        }
      }
      segments.push(seg);
      if (damage !== null && !tornTail) {
        await closeOnce();
        await dropFrom(i + 1, `after the damage in ${name} at offset ${damage.offset}`);
        break;
      }
    } finally {
      await closeOnce();
    }
  }
  if (dirChanged) await io.syncDirectory(dir);

  const last = segments[segments.length - 1];
  const lastLsn = last === undefined ? floorLsn - 1n : last.lastLsn;
  let nextLsn = lastLsn + 1n;
  if (nextLsn < floorLsn) nextLsn = floorLsn;
  if (nextLsn < 1n) nextLsn = 1n;
  report.segments = segments.length;
  report.floorLsn = floorLsn;
  report.lastLsn = lastLsn < 0n ? 0n : lastLsn;
  return { segments, floorLsn, nextLsn, report };
}
