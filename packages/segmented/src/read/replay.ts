import {
  FILE_HEADER_SIZE,
  type FrameScanner,
  isWalError,
  type KeyRing,
  ReadSlices,
  type ScanStop,
  WalError,
  WalErrorCode,
  type WalRecord,
} from '@walnut/codec';
import { Errno, type StorageIo } from '@walnut/storage-io';
import { scanChunks } from '../files/chunk-reader.js';
import { FRAME_INDEX_SPACING, type FrameIndex } from '../files/frame-index.js';
import type { Segment } from '../files/segment.js';
import { corruptError, readCipher } from '../recovery/segment-scan.js';

/** What a replay reads: segments on disk and how far each is known to hold whole frames. */
export interface ReplaySource {
  io: StorageIo;
  ring: KeyRing | undefined;
  chunkSize: number;
  /** The segments on disk, oldest first, at the moment the replay starts. */
  segments(): readonly Segment[];
  /** Highest LSN a replay may return (records after it may be in flight). */
  readableLsn(): bigint;
}

/** Where a replay can start reading without scanning its segment from the beginning. */
export interface ReplayPosition {
  path: string;
  /** File offset of the frame that holds the record to start at (a frame boundary). */
  offset: number;
}

interface Chunk {
  scanner: FrameScanner;
  path: string;
  /** The segment's frame index, which the frames read are offered to; null when it keeps none. */
  frames: FrameIndex | null;
  /** The index's version when the segment was opened: frames read under another are not offered. */
  version: number;
}

/**
 * What the records of the segment being read must be (0311): open reads only the newest
 * segment, so a replay is the check of the others, and nothing out of sequence is handed out.
 */
interface Sequence {
  /** The LSN the next record must have; null when any (a replay resuming inside a segment). */
  expect: bigint | null;
  /** The highest LSN the segment holds (as far as the log knows). */
  last: bigint;
}

const DAMAGE_ADVICE =
  "Restore the log from a replica or backup, or open it with recovery: 'salvage' to keep every intact record";

/**
 * The chunks to read, in order, from the segment holding `from` up to the readable end.
 * The consumer drains each chunk's scanner before asking for the next one; `resume`, when
 * given, is a frame boundary in the segment holding `from`.
 */
async function* replayChunks(
  source: ReplaySource,
  from: bigint,
  limit: bigint,
  resume: ReplayPosition | undefined,
  sequence: Sequence,
): AsyncGenerator<Chunk, void, void> {
  const all = source.segments();
  let startAt = 0;
  for (let i = 0; i < all.length; i++) if (all[i]!.firstLsn <= from) startAt = i;
  for (let i = startAt; i < all.length; i++) {
    const seg = all[i]!;
    if (seg.firstLsn > limit) return;
    if (seg.status === 'pending') return;
    // Only completed writes: the file may hold in-flight bytes past this point. Whether the
    // segment was whole is judged now, with its end: writes may complete while it is read.
    const end = seg.completedEnd;
    const whole = seg.status === 'sealed' && end === seg.assignedEnd;
    if (end <= FILE_HEADER_SIZE) continue;
    let start = FILE_HEADER_SIZE;
    let firstChunkSize: number | undefined;
    sequence.expect = seg.firstLsn;
    const frames = seg.frames;
    const version = frames?.version ?? 0;
    if (i === startAt) {
      const entry = frames?.seek(from) ?? null;
      if (resume !== undefined && resume.path === seg.path) {
        if (resume.offset >= FILE_HEADER_SIZE && resume.offset <= end) {
          start = resume.offset;
          sequence.expect = null;
        }
      }
      if (entry !== null && entry.offset >= start && entry.offset < end) {
        // Decision 0344: start at the indexed frame, which must hold the LSN the index names.
        start = entry.offset;
        sequence.expect = entry.lsn;
      }
      // A reader after a few records reads a few frames first, then ever larger chunks.
      const next = entry?.span === undefined ? 0 : entry.offset + entry.span;
      if (from > seg.firstLsn) firstChunkSize = next > start ? next - start : FRAME_INDEX_SPACING;
    }
    sequence.last = seg.lastLsn;
    const cipher = readCipher(source.ring, seg.header, seg.path);
    let fd: number;
    try {
      fd = await openSegment(source.io, seg);
    } catch (err) {
      if (isWalError(err) && err.details.errno === Errno.ENOENT) {
        throw new WalError(
          WalErrorCode.REPLAY_BELOW_FLOOR,
          `${seg.path} was removed (truncateBefore ran while this replay was reading); replay again from the new floor`,
          { cause: err, details: { segment: seg.path } },
        );
      }
      throw err;
    }
    try {
      const walk = scanChunks({
        io: source.io,
        fd,
        path: seg.path,
        start,
        end,
        cipher,
        file: seg.header,
        chunkSize: source.chunkSize,
        ...(firstChunkSize === undefined ? {} : { firstChunkSize }),
      });
      let step = await walk.next();
      while (step.done !== true) {
        yield { scanner: step.value, path: seg.path, frames, version };
        step = await walk.next();
      }
      checkEnd(seg, whole, step.value, end, sequence);
    } finally {
      await source.io.close(fd);
    }
  }
}

/**
 * A segment read to its end must end cleanly. A sealed one must have held every LSN up to
 * its last, and zero fill may follow them (open does not know where the data of a segment it
 * did not read ends); a stop short of that is damage: a cut, a zeroed stretch, or a segment
 * that is not the one the log wrote. The one being written ends where its writes completed.
 */
function checkEnd(
  seg: Segment,
  whole: boolean,
  stop: ScanStop,
  end: number,
  sequence: Sequence,
): void {
  if (stop.kind !== 'eof') {
    throw corruptError(seg.path, stop.offset, `${stop.kind}: ${stop.reason}`, DAMAGE_ADVICE);
  }
  const expect = sequence.expect;
  // A rollover seals a segment whose last writes may still be in flight: read before they
  // completed, it is judged as the one being written.
  if (whole && expect !== null && expect <= sequence.last) {
    throw corruptError(
      seg.path,
      stop.offset,
      `its records end at LSN ${expect - 1n} but the log holds LSNs up to ${sequence.last} in it (it was cut or zeroed, or it is not the segment the log wrote, or one that held them is missing)`,
      DAMAGE_ADVICE,
    );
  }
  if (!whole && stop.offset < end) {
    throw corruptError(
      seg.path,
      stop.offset,
      `${stop.reason}, before the end of the completed writes (${end}); something changed the file since the log was opened`,
      DAMAGE_ADVICE,
    );
  }
}

/**
 * Opens a segment for reading. One still being written under its tmp name (status
 * `unnamed`) is read there; it may be renamed meanwhile, so a missing tmp file means the
 * file has its own name by now.
 */
export async function openSegment(io: StorageIo, seg: Segment): Promise<number> {
  if (seg.status === 'unnamed') {
    try {
      return await io.open(seg.tmpPath, { readOnly: true });
    } catch (err) {
      if (!isWalError(err) || err.details.errno !== Errno.ENOENT) throw err;
    }
  }
  return io.open(seg.path, { readOnly: true });
}

const DONE: IteratorReturnResult<undefined> = Object.freeze({ done: true, value: undefined });

/**
 * Streams records with LSN ≥ `from` (up to the LSN readable when it starts), one read
 * chunk at a time. Every chunk is a fresh buffer and records are views into it: a record
 * stays valid for as long as it is held, and memory is released as soon as the consumer
 * drops the records of a chunk. Records are decoded one by one as they are asked for, and
 * while a chunk lasts `next()` needs no I/O; nor, from the page cache, does reading the next
 * chunk, so `next()` lets the event loop turn once its slice is spent (decision 0312).
 */
export class ReplayIterator implements AsyncIterableIterator<WalRecord> {
  private readonly chunks: AsyncGenerator<Chunk, void, void>;
  private readonly from: bigint;
  private readonly limit: bigint;
  private chunk: Chunk | null = null;
  private lastFrameStart = -1;
  /** The file of #lastFrameStart (kept after the chunk is dropped, for `position()` at the end). */
  private lastFramePath: string | null = null;
  private finished = false;
  /** Paging mode: records decoded one by one so that `position()` is known for each. */
  private readonly paging: boolean;
  private ready: WalRecord[] = [];
  private at = 0;
  private readonly sequence: Sequence = { expect: null, last: 0n };
  /** Damage found while decoding a chunk ahead: thrown once the records before it are out. */
  private damage: WalError | null = null;
  /** File offset of the frame of the record read last. */
  private frameAt = 0;
  private readonly slices = new ReadSlices();
  /** The slice is spent: `next()` lets the event loop turn before anything else is handed out. */
  private pausing = false;

  constructor(source: ReplaySource, from: bigint, resume?: ReplayPosition, paging = false) {
    this.paging = paging;
    this.from = from;
    this.limit = source.readableLsn();
    this.chunks = replayChunks(source, from, this.limit, resume, this.sequence);
  }

  /**
   * Whether records follow record `lsn`, just handed out, without reading on: later LSNs of
   * its segment are in the log and readable by this replay.
   */
  moreFollow(lsn: bigint): boolean {
    return lsn < this.limit && lsn < this.sequence.last;
  }

  /** Where the record `next()` returned last starts, when it is the first of its frame. */
  position(): ReplayPosition | null {
    if (this.lastFramePath === null || this.lastFrameStart < 0) return null;
    return { path: this.lastFramePath, offset: this.lastFrameStart };
  }

  next(): Promise<IteratorResult<WalRecord>> {
    if (this.pausing) return this.resume();
    const rec = this.nextAtHand();
    if (rec !== null) return Promise.resolve({ done: false, value: rec });
    return this.refill();
  }

  /**
   * The next record when it is in the chunk at hand (no promise, no I/O); null when `next()`
   * must read on, or the end was reached, or the event loop's turn is due.
   */
  nextAtHand(): WalRecord | null {
    if (this.pausing) return null;
    const rec = this.at < this.ready.length ? this.ready[this.at++]! : this.fromChunk();
    if (rec !== null && this.slices.handedOut()) this.pausing = true;
    return rec;
  }

  private async resume(): Promise<IteratorResult<WalRecord>> {
    await this.slices.pause();
    this.pausing = false;
    return this.next();
  }

  /**
   * Streaming (not paging): decodes the rest of the chunk in one tight loop, which the JIT
   * handles better than one decode per `next()`. Positions are not tracked in this mode.
   */
  private decodeChunk(): void {
    const ready: WalRecord[] = [];
    try {
      for (let rec = this.fromChunk(); rec !== null; rec = this.fromChunk()) ready.push(rec);
    } catch (err) {
      if (!isWalError(err, WalErrorCode.CORRUPT)) throw err;
      this.damage = err;
    }
    this.ready = ready;
    this.at = 0;
  }

  /** The next wanted record of the current chunk; null when it has none left (or the end was passed). */
  private fromChunk(): WalRecord | null {
    const chunk = this.chunk;
    if (chunk === null || this.finished) return null;
    const scanner = chunk.scanner;
    for (;;) {
      const before = scanner.offset;
      const rec = scanner.nextRecord();
      if (rec === null) {
        if (this.paging) this.chunk = null;
        return null;
      }
      this.lastFrameStart = scanner.offset !== before ? before : -1;
      this.lastFramePath = chunk.path;
      if (this.lastFrameStart >= 0) this.frameAt = before;
      const sequence = this.sequence;
      const lsn = rec.lsn;
      if (sequence.expect !== null && lsn !== sequence.expect) {
        this.finished = true;
        throw this.outOfSequence(
          chunk.path,
          `a valid frame holds LSN ${lsn} where LSN ${sequence.expect} was expected`,
        );
      }
      sequence.expect = lsn + 1n;
      if (lsn > this.limit) {
        this.finished = true;
        return null;
      }
      if (lsn > sequence.last) {
        this.finished = true;
        throw this.outOfSequence(
          chunk.path,
          `a valid frame holds LSN ${lsn}, past LSN ${sequence.last}, the last the log has in this segment (it is not the segment the log wrote)`,
        );
      }
      if (this.lastFrameStart >= 0) chunk.frames?.offer(before, lsn, chunk.version);
      if (lsn >= this.from) return rec;
    }
  }

  private outOfSequence(path: string, reason: string): WalError {
    return corruptError(path, this.frameAt, reason, DAMAGE_ADVICE);
  }

  private async refill(): Promise<IteratorResult<WalRecord>> {
    for (;;) {
      const damage = this.damage;
      if (damage !== null) {
        this.damage = null;
        await this.return();
        throw damage;
      }
      if (this.finished) {
        await this.return();
        return DONE;
      }
      const step = await this.chunks.next();
      if (step.done === true) {
        this.chunk = null;
        this.finished = true;
        return DONE;
      }
      this.chunk = step.value;
      if (!this.paging) this.decodeChunk();
      const rec = this.nextAtHand();
      if (rec !== null) return { done: false, value: rec };
    }
  }

  async return(): Promise<IteratorResult<WalRecord>> {
    this.finished = true;
    this.chunk = null;
    this.ready = [];
    await this.chunks.return();
    return DONE;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}
