import { readFile } from 'node:fs/promises';
import {
  type DamageKind,
  decodeFileHeader,
  FILE_HEADER_SIZE,
  type FileHeader,
  FrameScanner,
  findNextValidFrame,
  frameRecords,
  type WalRecord,
} from '@walnut/codec';
import { judgeSegmentRest } from '@walnut/segmented';
import type { SegmentFile } from './directory.js';

/** A stretch of a segment that is not valid frames. */
export interface Damage {
  /** File offset where the damage starts. */
  readonly offset: number;
  /** File offset of the next valid frame, or the file size when none follows. */
  readonly end: number;
  /** torn: nothing valid after it in this file; corrupt: valid frames follow. */
  readonly kind: Exclude<DamageKind, 'eof'>;
  readonly reason: string;
  /** The LSNs the damaged stretch held (known once the frame after it is read). */
  lostLsns?: string;
}

export interface SegmentScan {
  readonly file: SegmentFile;
  /** The decoded header, or null when it is unreadable (see headerProblem). */
  readonly header: FileHeader | null;
  readonly headerProblem: string | null;
  readonly frames: number;
  readonly records: number;
  /** Frames that are encrypted: their CRC was checked, their contents were not. */
  readonly encryptedFrames: number;
  readonly firstLsn: bigint | null;
  readonly lastLsn: bigint | null;
  /** Append times (ms since the epoch) of its first and last record; null for records of
   * format version 1, which carry none. */
  readonly firstTime: number | null;
  readonly lastTime: number | null;
  /** Bytes of valid frames and header (where a clean log ends in this file). */
  readonly validEnd: number;
  /** Zero bytes after the last frame (preallocated space), counted, not damage. */
  readonly zeroTailBytes: number;
  readonly damage: readonly Damage[];
  /** LSNs that should be here but are not (inside damaged stretches, or jumps). */
  readonly lsnProblems: readonly string[];
}

export interface ScanOptions {
  /**
   * The log's newest segment: damage in it is judged as recovery judges it, so a hole of
   * lost unsynced writes with frames after it (what a crash can leave) is a torn tail from
   * the hole to the end, whose records are not read, since the next open cuts them.
   */
  readonly newest?: boolean;
  /** Called for every record in order, with the file offset of its frame. */
  readonly onRecord?: (record: WalRecord, frameOffset: number) => void;
  /** Called now and then with the file offset scanned so far. */
  readonly onProgress?: (offset: number) => void;
}

/**
 * Checks every frame of one segment: header, frame CRCs, record bodies and that LSNs
 * follow each other. Unlike recovery it does not stop at the first damage: it finds the
 * next valid frame and goes on, so a report can say everything that is wrong.
 */
export async function scanSegment(
  file: SegmentFile,
  options: ScanOptions = {},
): Promise<SegmentScan> {
  const buf = await readFile(file.path);
  let header: FileHeader | null = null;
  let headerProblem: string | null = null;
  try {
    header = decodeFileHeader(buf.subarray(0, FILE_HEADER_SIZE), file.path);
    if (header.fileKind !== 'segment')
      headerProblem = `file kind is ${header.fileKind}, not segment`;
    else if (header.firstLsn !== file.firstLsn)
      headerProblem = `header says first LSN ${header.firstLsn}, the file name says ${file.firstLsn}`;
  } catch (error) {
    headerProblem = error instanceof Error ? error.message : String(error);
  }
  const state = {
    frames: 0,
    records: 0,
    encryptedFrames: 0,
    firstLsn: null as bigint | null,
    lastLsn: null as bigint | null,
    firstTime: null as number | null,
    lastTime: null as number | null,
    expected: file.firstLsn,
  };
  const damage: Damage[] = [];
  const lsnProblems: string[] = [];
  if (header === null) {
    if (buf.length > 0 && !buf.every((b) => b === 0)) {
      damage.push({
        offset: 0,
        end: buf.length,
        kind: 'corrupt',
        reason: `unreadable header: ${headerProblem}`,
      });
    }
    return finish(0, 0);
  }

  const noteRecord = (record: WalRecord, frameOffset: number) => {
    const before = damage.at(-1);
    if (record.lsn > state.expected && before !== undefined && before.end === frameOffset) {
      // The LSNs the damage just before this frame swallowed: one finding, not two.
      before.lostLsns = `${state.expected}..${record.lsn - 1n}`;
    } else if (record.lsn !== state.expected) {
      lsnProblems.push(
        record.lsn > state.expected
          ? `LSNs ${state.expected}..${record.lsn - 1n} are missing before offset ${frameOffset}`
          : `LSN ${record.lsn} at offset ${frameOffset} repeats or goes back (expected ${state.expected})`,
      );
    }
    state.expected = record.lsn + 1n;
    state.records++;
    state.firstLsn ??= record.lsn;
    state.lastLsn = record.lsn;
    if (record.time !== undefined) {
      state.firstTime ??= record.time;
      state.lastTime = record.time;
    }
    options.onRecord?.(record, frameOffset);
  };

  let start = header.headerLength;
  let validEnd = start;
  let zeroTail = 0;
  for (;;) {
    // No key: an encrypted frame's CRC is checked, its contents are not (it is counted).
    const scanner = new FrameScanner(buf, { start, passEncrypted: true });
    for (;;) {
      const frame = scanner.nextFrame();
      if (frame === null) break;
      state.frames++;
      const frameEnd = frame.offset + 8 + frame.body.length;
      const bad = decodeFrame(frame.body, frame.offset, noteRecord, state, header);
      if (bad) damage.push({ offset: frame.offset, end: frameEnd, kind: 'corrupt', reason: bad });
      validEnd = frameEnd;
      if ((state.frames & 0xfff) === 0) options.onProgress?.(frameEnd);
    }
    const stop = scanner.stop!;
    if (stop.kind === 'eof') {
      zeroTail = buf.length - stop.offset;
      break;
    }
    const next = stop.kind === 'corrupt' ? findNextValidFrame(buf, stop.offset + 1) : -1;
    const lost =
      next >= 0 && options.newest === true
        ? judgeSegmentRest(buf.subarray(stop.offset), stop.offset, true)
        : undefined;
    if (lost?.kind === 'torn') {
      damage.push({ offset: stop.offset, end: buf.length, kind: 'torn', reason: lost.reason! });
      break;
    }
    if (next < 0) {
      damage.push({ offset: stop.offset, end: buf.length, kind: 'torn', reason: stop.reason });
      break;
    }
    damage.push({ offset: stop.offset, end: next, kind: 'corrupt', reason: stop.reason });
    start = next;
  }
  options.onProgress?.(buf.length);
  return finish(validEnd, zeroTail);

  function finish(end: number, zeroTailBytes: number): SegmentScan {
    return {
      file,
      header,
      headerProblem,
      frames: state.frames,
      records: state.records,
      encryptedFrames: state.encryptedFrames,
      firstLsn: state.firstLsn,
      lastLsn: state.lastLsn,
      firstTime: state.firstTime,
      lastTime: state.lastTime,
      validEnd: end,
      zeroTailBytes,
      damage,
      lsnProblems,
    };
  }
}

/** Decodes one frame body; returns why it is malformed, or null when it is fine. */
function decodeFrame(
  body: Buffer,
  frameOffset: number,
  onRecord: (record: WalRecord, frameOffset: number) => void,
  state: { encryptedFrames: number },
  header: FileHeader,
): string | null {
  const records: WalRecord[] = [];
  try {
    // The header says whether records may carry times, and what they count from.
    const content = frameRecords(body, 0, body.length, records, { file: header });
    if (content === 'encrypted') state.encryptedFrames++;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
  for (const record of records) onRecord(record, frameOffset);
  return null;
}
