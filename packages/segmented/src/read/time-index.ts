/** One frame an index points at: where it starts and its first record's LSN and time. */
export interface TimeIndexEntry {
  readonly offset: number;
  readonly lsn: bigint;
  readonly time: number;
}

/**
 * How far apart a segment's index entries are: about a thousand per segment, at most 64 KiB
 * apart (what a lookup reads past its entry) and at least 512 bytes.
 */
export function indexSpacing(segmentTargetSize: number): number {
  return Math.min(64 * 1024, Math.max(512, Math.floor(segmentTargetSize / 1024)));
}

/**
 * A sparse time index of one sealed segment, in memory (docs/decisions/0351): the first frame
 * at or after every `spacing` bytes, from the segment's first frame on. An entry is only a
 * place to start reading: the frame there is checked to be the one the entry names.
 */
export class SegmentTimeIndex {
  private readonly offsets: number[] = [];
  /** LSNs after the segment's first, as numbers (a segment never holds 2^53 records). */
  private readonly lsnSteps: number[] = [];
  private readonly times: number[] = [];
  private nextOffset = 0;

  constructor(
    private readonly firstLsn: bigint,
    private readonly spacing: number,
  ) {}

  /** Offers the frame the walk that builds the index is at; kept if it is far enough on. */
  offer(offset: number, lsn: bigint, time: number): void {
    if (offset < this.nextOffset) return;
    this.offsets.push(offset);
    this.lsnSteps.push(Number(lsn - this.firstLsn));
    this.times.push(time);
    this.nextOffset = offset + this.spacing;
  }

  /** The last entry whose time is before `t` (times never decrease along a segment); null when none is. */
  before(t: number): TimeIndexEntry | null {
    let lo = 0;
    let hi = this.times.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.times[mid]! < t) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    if (found < 0) return null;
    return {
      offset: this.offsets[found]!,
      lsn: this.firstLsn + BigInt(this.lsnSteps[found]!),
      time: this.times[found]!,
    };
  }
}
