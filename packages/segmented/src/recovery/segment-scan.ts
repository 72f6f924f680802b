import {
  bodyTime,
  classifyDamage,
  type DamageKind,
  decodeFileHeader,
  FILE_HEADER_SIZE,
  type FileHeader,
  FrameCipher,
  findNextValidFrame,
  frameLsnAt,
  frameRecordCount,
  isPaddingBody,
  isWalError,
  type KeyRing,
  LsnSequence,
  lostWritesHoleEnd,
  type ScanStop,
  WalError,
  WalErrorCode,
} from '@walnut/codec';
import { type IoFd, readFully, type StorageIo } from '@walnut/storage-io';
import { scanChunks } from '../files/chunk-reader.js';
import { FrameIndex } from '../files/frame-index.js';
import { highestDurableMark } from './durable-marks.js';

// One segment as recovery reads it: its header and cipher, every frame's LSN continuity, and
// a verdict on whatever follows the last valid frame (end, torn write, or damage).

/** What scanning a segment needs from the recovery options. */
export interface ScanOptions {
  io: StorageIo;
  ring: KeyRing | undefined;
  /**
   * Read-only, beside a writer that may be writing (its lock is held): the last segment
   * ends at the first frame that does not check out, as `refresh()` reads it (0320). Past
   * a live writer's last completed write lie zeros, a write under way, or later writes
   * that completed first; they change while they are read, so judging them would report
   * damage that is not there, and that judgement is the writer's.
   */
  besideWriter?: boolean;
}

export interface Damage {
  offset: number;
  kind: Exclude<DamageKind, 'eof'>;
  reason: string;
}

export function corruptError(
  path: string,
  offset: number,
  reason: string,
  advice: string,
): WalError {
  return new WalError(
    WalErrorCode.CORRUPT,
    `${path} is damaged at offset ${offset}: ${reason}. ${advice}`,
    {
      details: { segment: path, offset, reason },
    },
  );
}

const RESTORE_OR_SALVAGE =
  "restore the log from a replica or backup, or open with recovery: 'salvage', which keeps every intact record and records the LSNs lost in the damage (the log's GAPS file)";

export const CORRUPT_ADVICE = `Valid data follows the damage, so this is not a torn write; ${RESTORE_OR_SALVAGE}`;

/** For damage with no valid frame after it in a segment that is not the newest. */
export const SEALED_END_ADVICE = `Later segments follow this one, so this is not a torn write; ${RESTORE_OR_SALVAGE}`;

/** The cipher that decrypts a segment, or WAL_KEY_MISSING naming it. */
export function readCipher(
  ring: KeyRing | undefined,
  header: FileHeader,
  path: string,
): FrameCipher | undefined {
  if (header.cipher === 'none') return undefined;
  if (ring === undefined || !ring.has(header.keyId)) throw keyMissing(ring, header.keyId, path);
  try {
    return FrameCipher.forFile(ring, header, path);
  } catch (err) {
    if (isWalError(err)) err.details.segment ??= path;
    throw err;
  }
}

/** WAL_KEY_MISSING for the segment at `path`, encrypted under `keyId`, which `ring` lacks. */
export function keyMissing(ring: KeyRing | undefined, keyId: number, path: string): WalError {
  return new WalError(
    WalErrorCode.KEY_MISSING,
    ring === undefined
      ? `${path} is encrypted (key id ${keyId}); open the log with encryption: a KeyRing holding that key`
      : `${path} is encrypted with key id ${keyId}, which the key ring lacks; use a KeyRing holding the key that wrote it as key ${keyId} (keep old keys in the ring when rotating: ring.rotate(newId, key))`,
    { details: { segment: path, keyId } },
  );
}

export async function readHeader(
  io: StorageIo,
  fd: IoFd,
  path: string,
  firstLsn: bigint,
): Promise<FileHeader> {
  const buf = Buffer.alloc(FILE_HEADER_SIZE);
  const got = await readFully(io, fd, buf, 0);
  return checkHeader(buf.subarray(0, got), path, firstLsn);
}

/** Decodes a segment's header read from `path`, named `firstLsn`: WAL_CORRUPT if it is not. */
export function checkHeader(bytes: Buffer, path: string, firstLsn: bigint): FileHeader {
  const header = decodeFileHeader(bytes, path);
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

/** What the bytes from a stop to the end of a segment are (`judgeSegmentRest`). */
export interface RestVerdict {
  readonly kind: DamageKind;
  readonly reason?: string;
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
  isLast: boolean,
): Promise<RestVerdict> {
  if (offset >= fileSize) return { kind: 'eof' };
  // The rest of one segment is at most its target size plus one frame: reading it whole
  // is bounded, and it is the only way to tell a torn write from damage before valid frames.
  const rest = Buffer.allocUnsafeSlow(fileSize - offset);
  const got = await readFully(io, fd, rest, offset);
  return judgeSegmentRest(rest.subarray(0, got), offset, isLast);
}

/**
 * Judges `bytes`, a segment's rest from file offset `offset` (where frames stopped) to its
 * end, as recovery does: what the next open cuts ('torn', 'eof') and what it refuses
 * ('corrupt'). Readers beside the log (the CLI's) judge the newest segment with it, so
 * that they call damage exactly what recovery would.
 */
export function judgeSegmentRest(bytes: Buffer, offset: number, isLast: boolean): RestVerdict {
  if (bytes.length === 0) return { kind: 'eof' };
  // A frame whose CRC matches but which the scanner refused has a malformed body: a
  // writer of this format never produces one, so it is damage, not a torn write.
  if (findNextValidFrame(bytes, 0) === 0) return { kind: 'corrupt' };
  const kind = classifyDamage(bytes, 0);
  if (kind !== 'corrupt' || !isLast) return { kind };
  const next = lostWritesHoleEnd(bytes, 0, offset);
  const durable = next >= 0 ? highestDurableMark(bytes, next, offset) : -1;
  if (durable > offset) {
    return {
      kind: 'corrupt',
      reason: `zeros where a hole of lost writes would be, but a durable mark after them says a completed sync covered the file up to offset ${durable}`,
    };
  }
  if (next >= 0) {
    return {
      kind: 'torn',
      reason: `a zero-filled hole (writes lost by a crash) followed by ${bytes.length - next} bytes from offset ${offset + next} written after it and never made durable`,
    };
  }
  return { kind };
}

export interface ScanResult {
  lastLsn: bigint;
  records: number;
  dataEnd: number;
  damage: Damage | null;
  /** The newest segment's (`isLast`): the time of its last record, if it has one. */
  lastTime?: number;
  /** The newest segment's: where its frames start, for replays from an LSN (decision 0344). */
  frames?: FrameIndex;
}

export async function scanSegment(
  opts: ScanOptions,
  fd: IoFd,
  path: string,
  header: FileHeader,
  fileSize: number,
  isLast: boolean,
): Promise<ScanResult> {
  const cipher = readCipher(opts.ring, header, path);
  const sequence = new LsnSequence(header.firstLsn);
  let records = 0;
  const walk = scanChunks({
    io: opts.io,
    fd,
    path,
    start: FILE_HEADER_SIZE,
    end: fileSize,
    cipher,
    file: header,
    reuseChunk: true,
  });
  const atWritersFrontier = isLast && opts.besideWriter === true;
  // The writer's clock starts at the newest record's time (decision 0350): only the newest
  // segment's is looked for, and only in version 2, where records have times.
  const timed = isLast && header.version >= 2;
  let lastTime: number | undefined;
  // The newest segment is the one appended to and read from an LSN (decision 0344).
  const frames = isLast ? new FrameIndex(header.firstLsn) : undefined;
  const wants = (offset: number) => frames!.wants(offset);
  const take = (offset: number, lsn: bigint) => frames!.offer(offset, lsn);
  // A frame that checks out but holds no records, or the wrong LSN, is damage here.
  const corruptAt = async (offset: number, reason: string): Promise<ScanResult> => {
    await walk.return({ kind: 'corrupt', offset, reason: '' });
    const damage: Damage | null = atWritersFrontier ? null : { offset, kind: 'corrupt', reason };
    return { lastLsn: sequence.next - 1n, records, dataEnd: offset, damage, lastTime };
  };
  let step = await walk.next();
  while (step.done !== true) {
    const scanner = step.value;
    for (;;) {
      // Recovery only needs continuity, from each body's fixed header (replay decodes and
      // validates every record): the scanner passes the frames that continue it in bulk,
      // and the loop below reads one by one what it stopped at (encrypted frames, damage).
      const runFrom = scanner.offset;
      const passed = scanner.passLsnRun(sequence);
      if (frames !== undefined && passed > 0) scanner.runFrames(runFrom, wants, take);
      records += passed;
      if (timed && passed > 0) lastTime = scanner.lastRunTime(header.createdAtMs) ?? lastTime;
      try {
        if (!scanner.advanceFrame()) break;
      } catch (err) {
        if (isWalError(err)) err.details.segment ??= path;
        throw err;
      }
      const buf = scanner.frameBuffer;
      const start = scanner.frameBodyStart;
      const length = scanner.frameBodyEnd - start;
      if (isPaddingBody(buf, start)) continue;
      const count = frameRecordCount(buf, start, start + length);
      if (count === 0) {
        return corruptAt(
          scanner.frameOffset,
          `a frame of kind ${buf[start]} (or a malformed one) where records were expected`,
        );
      }
      const lsnAt = frameLsnAt(buf, start);
      if (!sequence.isNextAt(buf, lsnAt)) {
        return corruptAt(
          scanner.frameOffset,
          `a valid frame holds LSN ${buf.readBigUInt64LE(lsnAt)} where LSN ${sequence.next} was expected`,
        );
      }
      if (frames?.wants(scanner.frameOffset)) frames.offer(scanner.frameOffset, sequence.next);
      sequence.advance(count);
      records += count;
      if (timed) lastTime = bodyTime(buf, start, start + length, header.createdAtMs) ?? lastTime;
    }
    step = await walk.next();
  }
  const stop: ScanStop = step.value;
  const lastLsn = sequence.next - 1n;
  if (atWritersFrontier || (stop.kind === 'eof' && stop.offset >= fileSize)) {
    return { lastLsn, records, dataEnd: stop.offset, damage: null, lastTime, frames };
  }
  const verdict = await judgeRest(opts.io, fd, stop.offset, fileSize, isLast);
  if (verdict.kind === 'eof')
    return { lastLsn, records, dataEnd: stop.offset, damage: null, lastTime, frames };
  return {
    lastLsn,
    records,
    lastTime,
    dataEnd: stop.offset,
    damage: { offset: stop.offset, kind: verdict.kind, reason: verdict.reason ?? stop.reason },
  };
}
