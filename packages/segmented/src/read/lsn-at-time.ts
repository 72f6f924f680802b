import {
  badArgument,
  FILE_HEADER_SIZE,
  FrameScanner,
  type KeyRing,
  type WalRecord,
} from '@walnut/codec';
import { readFully, type StorageIo } from '@walnut/storage-io';
import type { Segment } from '../files/segment.js';
import { corruptError, readCipher } from '../recovery/segment-scan.js';
import { openSegment } from './replay.js';

/** What `lsnAtTime` reads: the segments on disk and the records in them. */
export interface TimeSource {
  io: StorageIo;
  ring(): KeyRing | undefined;
  /** The segments on disk, oldest first. */
  segments(): readonly Segment[];
  /** The highest LSN a reader may return now. */
  readableLsn(): bigint;
  /** The records from `lsn` on, checked as any replay checks them. */
  replayFrom(lsn: bigint): AsyncIterable<WalRecord>;
}

/** Bytes read for a segment's first frame; a larger frame is read again whole. */
const FIRST_READ = 4096;

/**
 * `lsnAtTime` (docs/decisions/0350): a binary search over the segments by the time of their
 * first record (one small read each, kept for as long as the segment is), then a walk of
 * the one segment that holds the answer, each frame's CRC checked as a replay checks it.
 * It never reads more than one segment's records and a first frame per step.
 */
export class TimeLookup {
  /** First-record times by segment (its path and salt: a replaced file is another segment). */
  private readonly firstTimes = new Map<string, number>();

  constructor(private readonly source: TimeSource) {}

  /**
   * The first LSN whose record's time is ≥ `t`: the first LSN the log keeps when every
   * record is, the LSN after the last readable record when none is. Records without a time
   * (format version 1) count as appended when their segment was created: for `t` within
   * such a segment's span the answer is its first LSN, never later than the true one.
   */
  async lsnAtTime(t: number): Promise<bigint> {
    checkTime(t);
    const readable = this.source.readableLsn();
    const all = this.source
      .segments()
      .filter((s) => s.status !== 'pending' && s.lastLsn >= s.firstLsn && s.firstLsn <= readable);
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
    const end = found + 1 < all.length ? all[found + 1]!.firstLsn : readable + 1n;
    for await (const r of this.source.replayFrom(seg.firstLsn)) {
      if (r.lsn >= end) break;
      if (r.time === undefined || r.time >= t) return r.lsn;
    }
    return end;
  }

  /** The time of `seg`'s first record; for a version 1 segment, its creation time. */
  private async firstTime(seg: Segment): Promise<number> {
    if (seg.header.version < 2) return seg.header.createdAtMs;
    const key = `${seg.path}\0${seg.header.salt.toString('hex')}`;
    const known = this.firstTimes.get(key);
    if (known !== undefined) return known;
    const time = await this.readFirstTime(seg);
    this.firstTimes.set(key, time);
    return time;
  }

  private async readFirstTime(seg: Segment): Promise<number> {
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
        if (scanner.advance()) return scanner.time ?? seg.header.createdAtMs;
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

/** WAL_BAD_ARGUMENT unless `t` is a finite number of ms since the epoch, ≥ 0. */
export function checkTime(t: unknown): asserts t is number {
  if (typeof t !== 'number' || !Number.isFinite(t) || t < 0)
    badArgument(
      't',
      'a finite number of ms since the epoch, ≥ 0 (Date.parse(...) or Date.now())',
      t,
    );
}
