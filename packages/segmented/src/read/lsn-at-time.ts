import {
  badArgument,
  FILE_HEADER_SIZE,
  FrameScanner,
  isWalError,
  type KeyRing,
  WalErrorCode,
  type WalRecord,
} from '@walnut/codec';
import { readFully, type StorageIo } from '@walnut/storage-io';
import { DEFAULT_READ_CHUNK } from '../files/chunk-reader.js';
import type { Segment } from '../files/segment.js';
import { corruptError, readCipher } from '../recovery/segment-scan.js';
import { openSegment, type ReplayIterator, type ReplayPosition } from './replay.js';
import { indexSpacing, SegmentTimeIndex, type TimeIndexEntry } from './time-index.js';

/** What `lsnAtTime` reads: the segments on disk and the records in them. */
export interface TimeSource {
  io: StorageIo;
  ring(): KeyRing | undefined;
  /** The segments on disk, oldest first. */
  segments(): readonly Segment[];
  /** The highest LSN a reader may return now. */
  readableLsn(): bigint;
  /** The first LSN the log keeps. */
  floorLsn(): bigint;
  /** The records from `lsn` on, checked as any replay checks them. */
  replayFrom(lsn: bigint): AsyncIterable<WalRecord>;
  /**
   * A replay from `lsn` that tracks frame positions, starting at `resume` (a frame boundary
   * in the segment holding `lsn`) when given, reading `chunkSize` bytes at a time.
   */
  walk(lsn: bigint, resume: ReplayPosition | undefined, chunkSize: number): ReplayIterator;
  /** The log's suffix-cut generation: what was indexed before a cut is not used after it. */
  generation(): number;
  readonly segmentTargetSize: number;
}

/** Sealed segments whose index is kept (the most recently used): 64 × ~24 KiB at most. */
const MAX_INDEXES = 64;

/** Bytes read for a segment's first frame; a larger frame is read again whole. */
const FIRST_READ = 4096;

/**
 * `lsnAtTime` (docs/decisions/0350, 0351): a binary search over the segments by the time of
 * their first record (one small read each, kept for as long as the segment is), then a walk
 * of the one segment that holds the answer, each frame's CRC checked as a replay checks it.
 * A sealed segment is walked whole once, which builds its time index in memory; later
 * lookups in it read from the index entry before `t`, a few dozen KiB. It never reads more
 * than one segment's records and a first frame per step.
 */
export class TimeLookup {
  /**
   * The time of each segment's first record, null when it has none (format version 1), by
   * segment (its path and salt: a replaced file is another segment).
   */
  private readonly firstTimes = new Map<string, number | null>();
  /** Time indexes of sealed segments, by segment, its last LSN and the cut generation; least recently used first. */
  private readonly indexes = new Map<string, SegmentTimeIndex>();
  private readonly spacing: number;

  constructor(private readonly source: TimeSource) {
    this.spacing = indexSpacing(source.segmentTargetSize);
  }

  /**
   * The first LSN of the newest segment whose first record was appended before `t` (the
   * first LSN kept when none is known to be): every record below it was appended before
   * `t`, since a log's times never go back. What retention's `maxAgeMs` deletes by
   * (docs/decisions/0633). Reads only first frames, as `lsnAtTime`'s search does. A
   * segment's own header time bounds nothing here (a segment may be created before its
   * predecessor's last record), and version 1 segments have no record times: they are
   * aged by the first timed record after them.
   */
  async segmentsBefore(t: number): Promise<bigint> {
    const all = this.readableSegments();
    this.forgetOthers(all);
    let answer = this.source.floorLsn();
    // Version 2 segments follow every version 1 segment: search those only.
    let lo = all.findIndex((s) => s.header.version >= 2);
    if (lo < 0) return answer;
    let hi = all.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const time = await this.recordTime(all[mid]!);
      // A first record without a time (no writer writes one) counts as not before t: only later.
      if (time !== null && time < t) {
        answer = all[mid]!.firstLsn;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return answer;
  }

  /** The segments with a record a reader may return now, oldest first. */
  private readableSegments(): Segment[] {
    const readable = this.source.readableLsn();
    return this.source
      .segments()
      .filter((s) => s.status !== 'pending' && s.lastLsn >= s.firstLsn && s.firstLsn <= readable);
  }

  /** Drops the cached times of segments no longer on disk. */
  private forgetOthers(segments: readonly Segment[]): void {
    if (this.firstTimes.size <= segments.length) return;
    const keep = new Set(segments.map(keyOf));
    for (const key of this.firstTimes.keys()) if (!keep.has(key)) this.firstTimes.delete(key);
  }

  /**
   * The first LSN whose record's time is ≥ `t`: the first LSN the log keeps when every
   * record is, the LSN after the last readable record when none is. Records without a time
   * (format version 1) count as appended when their segment was created: for `t` within
   * such a segment's span the answer is its first LSN, never later than the true one.
   */
  async lsnAtTime(t: number): Promise<bigint> {
    checkTime(t);
    const readable = this.source.readableLsn();
    const all = this.readableSegments();
    if (all.length === 0) return readable + 1n;
    // The last segment whose first record is before t holds the answer, or its successor starts it.
    let lo = 0;
    let hi = all.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if ((await this.firstTime(all[mid]!)) < t) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    if (found < 0) return all[0]!.firstLsn;
    const seg = all[found]!;
    if (seg.header.version < 2) return seg.firstLsn;
    const next = all[found + 1];
    if (next === undefined || seg.status !== 'sealed') {
      // The segment being written changes as it is read: walked, not indexed.
      const end = next === undefined ? readable + 1n : next.firstLsn;
      for await (const r of this.source.replayFrom(seg.firstLsn)) {
        if (r.lsn >= end) break;
        if (r.time === undefined || r.time >= t) return r.lsn;
      }
      return end;
    }
    const since = this.source.generation();
    try {
      const answer = await this.inSealed(seg, t, next.firstLsn, since);
      if (this.source.generation() === since) return answer;
    } catch (err) {
      if (this.source.generation() === since) throw err;
    }
    // A suffix cut ran meanwhile (its files may have changed under the walk): look again.
    this.indexes.clear();
    return this.lsnAtTime(t);
  }

  /**
   * The answer within sealed segment `seg`, whose first record is before `t`: from its index
   * entry before `t` when it has an index that checks out, else by a walk of the whole
   * segment that builds one.
   */
  private async inSealed(seg: Segment, t: number, end: bigint, since: number): Promise<bigint> {
    const key = `${keyOf(seg)}\0${seg.lastLsn}\0${since}`;
    const index = this.indexes.get(key);
    if (index !== undefined) {
      this.indexes.delete(key);
      const entry = index.before(t);
      const answer = entry === null ? null : await this.fromEntry(seg, entry, t, end);
      if (answer !== null) {
        this.indexes.set(key, index);
        return answer;
      }
    }
    return this.buildIndex(seg, t, end, key);
  }

  /**
   * Walks from an index entry to the answer; null when the frame there is not the one the
   * entry names (then the index is not used again). The entry's record is before `t` and
   * times never go back, so the answer is after it whatever the index holds.
   */
  private async fromEntry(
    seg: Segment,
    entry: TimeIndexEntry,
    t: number,
    end: bigint,
  ): Promise<bigint | null> {
    const walk = this.source.walk(
      entry.lsn,
      { path: seg.path, offset: entry.offset },
      this.spacing,
    );
    try {
      const first = await walk.next();
      if (first.done === true) return null;
      let r = first.value;
      if (r.lsn !== entry.lsn || r.time !== entry.time || walk.position()?.offset !== entry.offset)
        return null;
      for (;;) {
        if (r.time === undefined || r.time >= t) return r.lsn;
        if (r.lsn >= seg.lastLsn) return end;
        const step = await walk.next();
        if (step.done === true) return null;
        r = step.value;
      }
    } catch (err) {
      // Not a frame boundary of this segment after all: the whole walk below says what is there.
      if (isWalError(err, WalErrorCode.CORRUPT)) return null;
      throw err;
    } finally {
      await walk.return();
    }
  }

  /** Walks all of `seg` from its first frame, indexing it on the way, and answers. */
  private async buildIndex(seg: Segment, t: number, end: bigint, key: string): Promise<bigint> {
    const index = new SegmentTimeIndex(seg.firstLsn, this.spacing);
    let answer: bigint | undefined;
    const walk = this.source.walk(seg.firstLsn, undefined, DEFAULT_READ_CHUNK);
    try {
      for (let step = await walk.next(); step.done !== true; step = await walk.next()) {
        const r = step.value;
        if (r.lsn >= end) break;
        const at = walk.position();
        if (at !== null && r.time !== undefined) index.offer(at.offset, r.lsn, r.time);
        if (answer === undefined && (r.time === undefined || r.time >= t)) answer = r.lsn;
        if (r.lsn === seg.lastLsn) {
          this.keep(key, index);
          break;
        }
      }
    } finally {
      await walk.return();
    }
    return answer ?? end;
  }

  private keep(key: string, index: SegmentTimeIndex): void {
    this.indexes.set(key, index);
    if (this.indexes.size > MAX_INDEXES) this.indexes.delete(this.indexes.keys().next().value!);
  }

  /** The time of `seg`'s first record; for a version 1 segment, its creation time. */
  private async firstTime(seg: Segment): Promise<number> {
    if (seg.header.version < 2) return seg.header.createdAtMs;
    return (await this.recordTime(seg)) ?? seg.header.createdAtMs;
  }

  /** The time of `seg`'s first record, null when it has none; read once per segment. */
  private async recordTime(seg: Segment): Promise<number | null> {
    if (seg.header.version < 2) return null;
    const key = keyOf(seg);
    const known = this.firstTimes.get(key);
    if (known !== undefined) return known;
    const time = await this.readFirstTime(seg);
    this.firstTimes.set(key, time);
    return time;
  }

  private async readFirstTime(seg: Segment): Promise<number | null> {
    const { io } = this.source;
    const cipher = readCipher(this.source.ring(), seg.header, seg.path);
    const fd = await openSegment(io, seg);
    try {
      let want = FIRST_READ;
      for (;;) {
        const buf = Buffer.alloc(want);
        const got = await readFully(io, fd, buf, FILE_HEADER_SIZE);
        const scanner = new FrameScanner(buf.subarray(0, got), {
          baseOffset: FILE_HEADER_SIZE,
          chunked: got === want,
          file: seg.header,
          ...(cipher === undefined ? {} : { cipher }),
        });
        if (scanner.advance()) return scanner.time ?? null;
        const stop = scanner.stop!;
        if (stop.kind === 'partial' && stop.needed! > want) {
          want = stop.needed!;
          continue;
        }
        throw corruptError(
          seg.path,
          stop.offset,
          `its first frame does not check out (${stop.kind}: ${stop.reason})`,
          'Restore the segment from a replica or backup',
        );
      }
    } finally {
      await io.close(fd);
    }
  }
}

function keyOf(seg: Segment): string {
  return `${seg.path}\0${seg.header.salt.toString('hex')}`;
}

/** WAL_BAD_ARGUMENT unless `t` is a finite number of ms since the epoch, ≥ 0. */
export function checkTime(t: unknown): asserts t is number {
  if (typeof t !== 'number' || !Number.isFinite(t) || t < 0)
    badArgument(
      't',
      'a finite number of ms since the epoch, ≥ 0 (Date.parse(...) or Date.now())',
      t,
    );
}
