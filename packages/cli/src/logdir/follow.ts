import { open } from 'node:fs/promises';
import {
  checkLogId,
  decodeFileHeader,
  type FileHeader,
  FrameScanner,
  frameRecords,
  isWalError,
  type SuffixCut,
  sameCut,
  WalError,
  WalErrorCode,
  type WalRecord,
} from '@walnut/codec';
import { cutBelowShown, readCut, settledCut } from './cut-looks.js';
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
  /** The log's CUT file when the records before `nextLsn` were read (null: never cut). */
  readonly cut: SuffixCut | null;
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

/** Where a follower is: what it reads, the LSN it shows next, and what it skips first. */
interface Place {
  reading: Reading;
  expected: bigint;
  /** Records below this were shown already: read again only to find where to go on. */
  skipBelow: bigint;
}

const HEADER_LENGTH = 64;
const FRAME_HEADER = 8;

const startOf = (segment: SegmentFile): Reading => ({
  segment,
  offset: HEADER_LENGTH,
  ino: null,
  last: null,
  file: null,
});

/**
 * Follows a log that another process writes, from the files alone (a writer holds the
 * lock, so a second process cannot open it for writing and has no in-process `tail`).
 * It polls the active segment for growth, decodes whole frames only — a frame the writer
 * has not finished is read again on the next poll — and moves on when a newer segment
 * appears, after draining the one it was in.
 *
 * Each poll is a look between two reads of the CUT file (decision 0341): its records are
 * shown only if no cut (truncateAfter) ran during it, else it is taken again. A cut since
 * the last look that kept every record shown is followed into the log it left; one below
 * them stops the follow with WAL_TRUNCATED naming it. Every record must follow the one
 * before: a record past the next LSN means the writer deleted records this follower had not
 * read yet (truncateBefore, retention), WAL_REPLAY_BELOW_FLOOR; a segment whose header names
 * another log id is a stray copied in. Each stops the follow with a WalError rather than
 * skip records or mix in another history.
 */
export async function followLog(
  dir: string,
  start: FollowPosition,
  options: FollowOptions,
): Promise<void> {
  const pollMs = options.pollMs ?? 200;
  let place: Place = {
    reading: startOf(start.segment),
    expected: start.nextLsn,
    // The first pass over the start segment reads again what was shown, to know its last frame.
    skipBelow: start.nextLsn,
  };
  let known = start.cut;
  while (!options.signal?.aborted) {
    const settled = await settledCut(dir, options.signal);
    if (settled === null) return;
    const { cut } = settled;
    const look: Place = { ...place, reading: { ...place.reading } };
    const shown: WalRecord[] = [];
    let moved = false;
    let failure: unknown = null;
    try {
      if (!sameCut(known, cut)) {
        const below = await cutBelowShown(dir, known, cut, look.expected - 1n);
        if (below !== null) throw below;
        // Every record shown was kept: go on from the segment that holds the next one.
        const segments = await listSegmentFiles(dir);
        const holder = segments.findLast((s) => s.firstLsn <= look.expected) ?? segments[0];
        if (holder !== undefined) {
          look.reading = startOf(holder);
          look.skipBelow = look.expected;
        }
      }
      moved = await poll(dir, look, start.logId, shown);
    } catch (error) {
      failure = error;
    }
    // A cut ran during the look: it counts for nothing (nothing of it was shown).
    if (!sameCut(cut, await readCut(dir))) continue;
    if (failure !== null) throw failure;
    for (const record of shown) options.onRecord(record);
    place = look;
    known = cut;
    if (!moved) await sleep(pollMs, options.signal);
  }
}

/**
 * One poll at `place`: the records it finds are collected in `shown`, and `place` moved past
 * them. True when it got further (read on without waiting).
 */
async function poll(
  dir: string,
  place: Place,
  logId: bigint | undefined,
  shown: WalRecord[],
): Promise<boolean> {
  const onRecord = (record: WalRecord): void => {
    if (record.lsn < place.skipBelow) return;
    place.skipBelow = 0n;
    if (record.lsn !== place.expected) throw discontinuity(dir, place.expected, record.lsn);
    place.expected = record.lsn + 1n;
    shown.push(record);
  };
  const onCut = (): never => {
    throw cutBelow(dir, place.expected);
  };
  const reading = place.reading;
  const before = reading.offset;
  const present = await readNewFrames(dir, reading, logId, onRecord, onCut);
  if (reading.offset !== before) return true;
  const next = (await listSegmentFiles(dir)).find((s) => s.firstLsn > reading.segment.firstLsn);
  // Gone with nothing after it: a cut below this segment deleted it (truncateAfter).
  if (!present && next === undefined && place.skipBelow === 0n) onCut();
  if (next === undefined) return false;
  // The writer sealed this segment: one last read, then move on.
  await readNewFrames(dir, reading, logId, onRecord, onCut);
  place.reading = startOf(next);
  return true;
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
