import { basename, join } from 'node:path';
import {
  FILE_HEADER_SIZE,
  FRAME_HEADER_SIZE,
  type KeyRing,
  parseSegmentFileName,
  segmentFilesIn,
  WalError,
  WalErrorCode,
} from '@walnut/codec';
import { Errno, type IoFd, readFully, type StorageIo } from '@walnut/storage-io';
import { scanChunks } from '../files/chunk-reader.js';
import { readFloor } from '../files/floor.js';
import { FrameIndex } from '../files/frame-index.js';
import { existingSegment, hasRecords, type Segment } from '../files/segment.js';
import { readCipher, readHeader } from '../recovery/segment-scan.js';

/**
 * Reads taken while following stay small: a live segment usually grew by a few frames, and
 * past them lie zeros (zero-filled ahead, or preallocated) that a large read would fetch
 * for nothing at every poll. A bigger frame makes its chunk grow as needed.
 */
const FOLLOW_CHUNK = 64 * 1024;

/** What a read-only opener knows of the log, brought up to date by `followLog`. */
export interface FollowState {
  readonly io: StorageIo;
  readonly dir: string;
  readonly ring: KeyRing | undefined;
  /** Oldest first; the last one is the segment the writer appends to (as far as we know). */
  segments: Segment[];
  floorLsn: bigint;
  /** The LSN the next record found must have (after the last record found). */
  nextLsn: bigint;
  /** The last frame found, and its length and CRC: a writer that rewrites it is noticed. */
  lastFrame: { path: string; offset: number; header: Buffer } | null;
}

function changedUnderReader(path: string, offset: number, what: string): WalError {
  return new WalError(
    WalErrorCode.CORRUPT,
    `${path} changed under this read-only opener: ${what}. The writer removed or rewrote records this reader had already found (a rollback after a full disk, a repair or a salvage); open the log again to read it as it is now`,
    { details: { segment: path, offset } },
  );
}

/**
 * Thrown inside `followLog` when the floor passed every record found (the writer's
 * truncateBefore or retention deleted the segments this reader was following): a floor
 * move, which `followLog` reports as `'overtaken'`, not damage.
 */
class Overtaken {}

/**
 * A file this reader follows is gone. The writer records the new floor before it deletes
 * the segments below it, so a floor past every record found means truncateBefore or
 * retention deleted them; anything else removed records the writer had (a rollback, a repair).
 */
async function gone(
  state: FollowState,
  path: string,
  offset: number,
  what: string,
): Promise<never> {
  const recorded = await readFloor(state.io, state.dir);
  // No FLOOR: deleting for lack of space removes it, and then the first segment starts the log.
  const floor = recorded ?? segmentFilesIn(await state.io.readdir(state.dir))[0]?.firstLsn;
  if (floor !== undefined && floor >= state.nextLsn) throw new Overtaken();
  throw changedUnderReader(path, offset, what);
}

const WINDOWS = process.platform === 'win32';

async function openOrNull(io: StorageIo, path: string, readOnly = true): Promise<IoFd | null> {
  try {
    return await io.open(path, { readOnly });
  } catch (err) {
    if ((err as WalError).details?.errno === Errno.ENOENT) return null;
    throw err;
  }
}

/**
 * Scans `seg` from the end of what was found in it for frames a writer appended since:
 * only whole frames whose CRC checks and whose LSNs continue the log count; the scan stops
 * quietly at the first that does not (a write still under way) and moves nothing past it.
 */
async function scanGrowth(state: FollowState, seg: Segment): Promise<void> {
  const fd = await openOrNull(state.io, seg.path);
  if (fd === null) return gone(state, seg.path, 0, 'the file is gone');
  try {
    const size = await state.io.size(fd);
    const start = seg.completedEnd;
    if (size < start) {
      throw changedUnderReader(
        seg.path,
        size,
        `it is ${size} bytes long, shorter than the ${start} found`,
      );
    }
    if (size === start) return;
    const walk = scanChunks({
      io: state.io,
      fd,
      path: seg.path,
      start,
      end: size,
      cipher: readCipher(state.ring, seg.header, seg.path),
      file: seg.header,
      chunkSize: FOLLOW_CHUNK,
    });
    let expected = state.nextLsn;
    let lastFrameOffset = -1;
    let step = await walk.next();
    while (step.done !== true) {
      const scanner = step.value;
      for (;;) {
        const frameStart = scanner.offset;
        if (!scanner.advance()) break;
        if (scanner.offset !== frameStart) lastFrameOffset = frameStart;
        if (scanner.lsn !== expected) {
          await walk.return({ kind: 'corrupt', offset: frameStart, reason: '' });
          throw changedUnderReader(
            seg.path,
            frameStart,
            `a valid frame at offset ${frameStart} holds LSN ${scanner.lsn} where LSN ${expected} was expected`,
          );
        }
        expected++;
      }
      step = await walk.next();
    }
    if (lastFrameOffset < 0) return;
    const header = Buffer.alloc(FRAME_HEADER_SIZE);
    await readFully(state.io, fd, header, lastFrameOffset);
    const end = step.value.offset;
    seg.assignedEnd = end;
    seg.completedEnd = end;
    seg.zeroedEnd = end;
    seg.writebackEnd = end;
    seg.lastLsn = expected - 1n;
    seg.writtenLsn = expected - 1n;
    state.nextLsn = expected;
    state.lastFrame = { path: seg.path, offset: lastFrameOffset, header };
  } finally {
    await state.io.close(fd);
  }
}

/** Whether the last frame found still reads as it did (a writer's rollback cuts and rewrites). */
async function checkLastFrame(state: FollowState): Promise<void> {
  const last = state.lastFrame;
  if (last === null) return;
  const fd = await openOrNull(state.io, last.path);
  if (fd === null) return gone(state, last.path, 0, 'the file is gone');
  try {
    const now = Buffer.alloc(FRAME_HEADER_SIZE);
    const got = await readFully(state.io, fd, now, last.offset);
    if (got < now.length || !now.equals(last.header)) {
      throw changedUnderReader(
        last.path,
        last.offset,
        `the frame at offset ${last.offset} is not the one found there`,
      );
    }
  } finally {
    await state.io.close(fd);
  }
}

async function segmentAt(state: FollowState, name: string): Promise<Segment> {
  const path = join(state.dir, name);
  const fd = await openOrNull(state.io, path);
  if (fd === null) return gone(state, path, 0, 'the file vanished as it was found');
  try {
    const firstLsn = parseSegmentFileName(name)!;
    const header = await readHeader(state.io, fd, path, firstLsn);
    return existingSegment(path, header, firstLsn - 1n, FILE_HEADER_SIZE);
  } finally {
    await state.io.close(fd);
  }
}

/**
 * Brings a read-only opener's view up to what a live writer has written since: new frames
 * of the segment being written, the segments the writer rolled over to, segments a
 * truncation removed below a new floor, and an empty last segment replaced by a fresh one
 * (a writer reopening an encrypted log). Nothing on disk is modified. `'overtaken'` when a
 * truncation removed every segment holding what was found: nothing in the view continues,
 * and it must be founded again on what the directory holds now.
 */
export async function followLog(state: FollowState): Promise<'followed' | 'overtaken'> {
  try {
    await follow(state);
    return 'followed';
  } catch (error) {
    if (error instanceof Overtaken) return 'overtaken';
    throw error;
  }
}

async function follow(state: FollowState): Promise<void> {
  await checkLastFrame(state);
  const scan = (seg: Segment): Promise<void> => scanGrowth(state, seg);
  let active = state.segments.at(-1);
  if (active !== undefined && !hasRecords(active)) {
    const fresh = await segmentAt(state, basename(active.path));
    if (!fresh.header.salt.equals(active.header.salt)) {
      fresh.frames = new FrameIndex(fresh.firstLsn);
      active = fresh;
      state.segments[state.segments.length - 1] = fresh;
    }
  }
  if (active !== undefined) await scan(active);

  const names = segmentFilesIn(await state.io.readdir(state.dir));
  const present = new Set(names.map((s) => join(state.dir, s.name)));
  if (active !== undefined && !present.has(active.path)) {
    await gone(state, active.path, 0, 'the segment being written is gone');
  }
  // A truncation deletes whole segments from the oldest on, after writing the new floor.
  const kept = state.segments.filter((seg) => present.has(seg.path));
  if (kept.length < state.segments.length) {
    state.segments = kept;
    state.floorLsn = (await readFloor(state.io, state.dir)) ?? kept[0]?.firstLsn ?? state.floorLsn;
  }

  for (const next of names) {
    if (active !== undefined && next.firstLsn <= active.firstLsn) continue;
    if (next.firstLsn !== state.nextLsn && active !== undefined) {
      // The writer seals a segment before it names the next one: what was still being
      // written when it was scanned above is complete now.
      await scan(active);
    }
    if (next.firstLsn !== state.nextLsn) {
      throw new WalError(
        WalErrorCode.MISSING_SEGMENT,
        `the log holds LSNs up to ${state.nextLsn - 1n} but its next segment ${next.name} starts at ${next.firstLsn}; open the log again to have recovery judge it`,
        { details: { segment: join(state.dir, next.name), offset: 0 } },
      );
    }
    // Only the newest segment keeps a frame index (decision 0344).
    if (active !== undefined) active.frames = null;
    active = await segmentAt(state, next.name);
    active.frames = new FrameIndex(active.firstLsn);
    state.segments.push(active);
    await scan(active);
  }
}

/**
 * Makes what a reader found durable before it reports it as such: an fdatasync of each
 * segment (through a read-only descriptor, or on Windows one that writes nothing) and of the directory,
 * whose entry for a segment the writer has just renamed may not be on disk yet. False when
 * a segment vanished since it was found (a truncation or a cut ran meanwhile): what was
 * found then vouches for nothing, and the next look tells which it was.
 */
export async function makeDurable(
  io: StorageIo,
  dir: string,
  segments: Segment[],
): Promise<boolean> {
  if (segments.length === 0) return true;
  for (const seg of segments) {
    // Windows flushes a file only through a handle that may write (FlushFileBuffers refuses
    // a read-only one with EPERM); nothing is written through it.
    const fd = await openOrNull(io, seg.path, !WINDOWS);
    if (fd === null) return false;
    try {
      await io.datasync(fd);
    } finally {
      await io.close(fd);
    }
  }
  await io.syncDirectory(dir);
  return true;
}
