import { open } from 'node:fs/promises';
import {
  checkLogId,
  decodeFileHeader,
  type FileHeader,
  FrameScanner,
  frameRecords,
  isWalError,
  WalError,
  WalErrorCode,
  type WalRecord,
} from '@walnut/codec';
import { listSegmentFiles, type SegmentFile } from './directory.js';
import { encryptedLogError } from './encrypted.js';

/**
 * Where a follower starts: the segment it reads from its first frame, and the LSN of the
 * first record it shows (records before it in that segment were shown already).
 */
export interface FollowPosition {
  readonly segment: SegmentFile;
  readonly nextLsn: bigint;
  /** This log's id (undefined for version 1 segments): a segment naming another is refused. */
  readonly logId: bigint | undefined;
}

export interface FollowOptions {
  readonly pollMs?: number;
  readonly signal?: AbortSignal;
  readonly onRecord: (record: WalRecord) => void;
}

/** The segment being read: its file, how far it was read, and the last frame read in it. */
interface Reading {
  segment: SegmentFile;
  offset: number;
  ino: number | null;
  /** Offset and first 8 bytes (CRC and length) of the last frame read from this segment. */
  last: { offset: number; header: Buffer } | null;
  /** The segment's header, read once: its records' times are relative to it. */
  file: FileHeader | null;
}

const HEADER_LENGTH = 64;
const FRAME_HEADER = 8;

/**
 * Follows a log that another process writes, from the files alone (a writer holds the
 * lock, so a second process cannot open it for writing and has no in-process `tail`).
 * It polls the active segment for growth, decodes whole frames only — a frame the writer
 * has not finished is read again on the next poll — and moves on when a newer segment
 * appears, after draining the one it was in. Every record must follow the one before: a
 * record past the next LSN means the writer deleted records this follower had not read yet
 * (truncateBefore, retention); a segment rewritten without the frame last read from it, or
 * a record before the next LSN, that the writer cut the log and wrote again (truncateAfter);
 * a segment whose header names another log id, a stray copied in. Each stops the follow with
 * a WalError rather than skip records or mix in another history.
 */
export async function followLog(
  dir: string,
  start: FollowPosition,
  options: FollowOptions,
): Promise<void> {
  const pollMs = options.pollMs ?? 200;
  const reading: Reading = {
    segment: start.segment,
    offset: HEADER_LENGTH,
    ino: null,
    last: null,
    file: null,
  };
  let expected = start.nextLsn;
  // The first pass over the start segment reads again what was shown, to know its last frame.
  let shown = false;
  const onRecord = (record: WalRecord): void => {
    if (!shown && record.lsn < start.nextLsn) return;
    if (record.lsn !== expected) throw discontinuity(dir, expected, record.lsn);
    shown = true;
    expected = record.lsn + 1n;
    options.onRecord(record);
  };
  const onCut = (): never => {
    throw cutBelow(dir, expected);
  };
  while (!options.signal?.aborted) {
    const before = reading.offset;
    const present = await readNewFrames(dir, reading, start.logId, onRecord, onCut);
    if (reading.offset === before) {
      const next = (await listSegmentFiles(dir)).find((s) => s.firstLsn > reading.segment.firstLsn);
      // Gone with nothing after it: a cut below this segment deleted it (truncateAfter).
      if (!present && next === undefined && shown) onCut();
      if (next) {
        // The writer sealed this segment: one last read, then move on.
        await readNewFrames(dir, reading, start.logId, onRecord, onCut);
        Object.assign(reading, {
          segment: next,
          offset: HEADER_LENGTH,
          ino: null,
          last: null,
          file: null,
        });
        continue;
      }
      await sleep(pollMs, options.signal);
    }
  }
}

function discontinuity(dir: string, expected: bigint, found: bigint): WalError {
  if (found > expected) {
    return new WalError(
      WalErrorCode.REPLAY_BELOW_FLOOR,
      `the writer of ${dir} removed LSNs ${expected}–${found - 1n} (truncateBefore or retention) before this tail read them; it stops rather than skip them. Run \`walnut tail -f ${dir}\` again to follow from what the log keeps now`,
      { details: { from: expected, to: found - 1n } },
    );
  }
  return cutBelow(dir, expected);
}

function cutBelow(dir: string, expected: bigint): WalError {
  return new WalError(
    WalErrorCode.TRUNCATED,
    `the writer of ${dir} cut the log (truncateAfter) below LSN ${expected - 1n}, the last record this tail showed; what it writes now belongs to another history. Run \`walnut tail -f ${dir}\` again to follow the log as it is now`,
    { details: { lsn: expected - 1n } },
  );
}

/**
 * The header of `segment`, open as `handle`: WAL_CORRUPT if it cannot be read or names
 * another log than `logId`.
 */
async function readHeader(
  handle: Awaited<ReturnType<typeof open>>,
  segment: SegmentFile,
  logId: bigint | undefined,
): Promise<FileHeader> {
  const bytes = Buffer.alloc(HEADER_LENGTH);
  const { bytesRead } = await handle.read(bytes, 0, HEADER_LENGTH, 0);
  const header = decodeFileHeader(bytes.subarray(0, bytesRead), segment.path);
  checkLogId(header, segment.path, logId);
  return header;
}

/**
 * Reads and emits every complete frame past `reading.offset`, and moves it past them; false
 * when the segment file is gone.
 */
async function readNewFrames(
  dir: string,
  reading: Reading,
  logId: bigint | undefined,
  onRecord: (record: WalRecord) => void,
  onCut: () => never,
): Promise<boolean> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(reading.segment.path, 'r');
  } catch {
    return false; // deleted by the writer
  }
  try {
    const { size, ino } = await handle.stat();
    if (reading.ino !== null && (ino !== reading.ino || size < reading.offset)) {
      // Rewritten in place of the old file: the same history only if it still holds the
      // frame last read from it, byte for byte where its CRC and length say so.
      if (!(await sameHistory(handle, reading))) onCut();
    }
    reading.ino = ino;
    if (size <= reading.offset) return true;
    reading.file ??= await readHeader(handle, reading.segment, logId);
    const from = reading.offset;
    const buf = Buffer.allocUnsafe(size - from);
    const { bytesRead } = await handle.read(buf, 0, buf.length, from);
    const scanner = new FrameScanner(buf.subarray(0, bytesRead), {
      baseOffset: from,
      chunked: true,
      passEncrypted: true,
      file: reading.file,
    });
    const records: WalRecord[] = [];
    for (let frame = scanner.nextFrame(); frame !== null; frame = scanner.nextFrame()) {
      records.length = 0;
      const { body } = frame;
      // A writer reopened with a key starts a new, encrypted segment: stop, never skip it.
      if (frameContent(body, records, reading, frame.offset) === 'encrypted')
        throw encryptedLogError(dir, reading.segment, null, 'tail');
      const at = frame.offset - from;
      reading.last = {
        offset: frame.offset,
        header: Buffer.from(buf.subarray(at, at + FRAME_HEADER)),
      };
      for (const record of records) onRecord(record);
    }
    reading.offset = scanner.offset;
    return true;
  } finally {
    await handle.close();
  }
}

/** The records of one frame body into `records`; WAL_CORRUPT names the segment and offset. */
function frameContent(body: Buffer, records: WalRecord[], reading: Reading, offset: number) {
  try {
    return frameRecords(body, 0, body.length, records, { file: reading.file ?? undefined });
  } catch (error) {
    if (isWalError(error)) {
      error.details.segment ??= reading.segment.path;
      error.details.offset ??= offset;
    }
    throw error;
  }
}

async function sameHistory(
  handle: Awaited<ReturnType<typeof open>>,
  reading: Reading,
): Promise<boolean> {
  if (reading.last === null) return true;
  const header = Buffer.alloc(FRAME_HEADER);
  const { bytesRead } = await handle.read(header, 0, FRAME_HEADER, reading.last.offset);
  return bytesRead === FRAME_HEADER && header.equals(reading.last.header);
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
  });
}
