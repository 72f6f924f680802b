/** Bytes between the frames a segment's frame index points at, at least (decision 0344). */
export const FRAME_INDEX_SPACING = 512;

/** Where a replay from an LSN starts reading, by the frame index. */
export interface FrameStart {
  /** File offset of a frame at or before the one holding the LSN asked for. */
  readonly offset: number;
  /** The first LSN of that frame: the replay checks that the frame there holds it. */
  readonly lsn: bigint;
  /** Bytes from `offset` that hold the frame with the LSN asked for, when the index knows. */
  readonly span: number | undefined;
}

const U32 = 2 ** 32;
const NO_LSN = -1n;

/**
 * The frames of one segment a replay from an LSN can start at (docs/decisions/0344): the
 * first frame at or after every `FRAME_INDEX_SPACING` bytes, as the writer places them or as
 * a replay passes them, in file order. Any subset of true frame starts is a correct index,
 * so an offer behind the last entry is dropped, never inserted. An entry is only a place to
 * start: the replay checks the frame there holds the entry's LSN (corrupt otherwise).
 */
export class FrameIndex {
  private offsets: Uint32Array<ArrayBuffer> = new Uint32Array(64);
  // The LSNs themselves, not steps from the first: an offer is on the append path, and a
  // bigint difference allocates where a store into a BigUint64Array does not.
  private lsns: BigUint64Array<ArrayBuffer> = new BigUint64Array(64);
  private lastLsn = NO_LSN;
  private size = 0;
  private nextOffset = 0;
  /**
   * Moves on every cut: a replay offers only frames it read since the version it started
   * with, so one that read frames a cut removed adds none of them back.
   */
  version = 0;

  constructor(private readonly firstLsn: bigint) {}

  /** Entries kept (for tests and stats). */
  get entries(): number {
    return this.size;
  }

  /** Whether a frame at `offset` would be kept (so a caller reads its LSN only then). */
  wants(offset: number): boolean {
    return offset >= this.nextOffset;
  }

  /** The frame at `offset` starts with record `lsn`; `version` is the one the caller read under. */
  offer(offset: number, lsn: bigint, version = this.version): void {
    if (offset < this.nextOffset || version !== this.version || offset >= U32) return;
    if (lsn < this.firstLsn || lsn <= this.lastLsn) return;
    if (this.size === this.offsets.length) this.grow();
    this.offsets[this.size] = offset;
    this.lsns[this.size] = lsn;
    this.lastLsn = lsn;
    this.size++;
    this.nextOffset = offset + FRAME_INDEX_SPACING;
  }

  private grow(): void {
    const offsets = new Uint32Array(this.size * 2);
    offsets.set(this.offsets);
    this.offsets = offsets;
    const lsns = new BigUint64Array(this.size * 2);
    lsns.set(this.lsns);
    this.lsns = lsns;
  }

  /** The last entry at or before record `lsn`; null when none is. */
  seek(lsn: bigint): FrameStart | null {
    let lo = 0;
    let hi = this.size - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.lsns[mid]! <= lsn) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    if (found < 0) return null;
    const offset = this.offsets[found]!;
    return {
      offset,
      lsn: this.lsns[found]!,
      span: found + 1 < this.size ? this.offsets[found + 1]! - offset : undefined,
    };
  }

  /** The records from `lsn` on are gone (a rollback): their frames are no longer starts. */
  cutFrom(lsn: bigint): void {
    while (this.size > 0 && this.lsns[this.size - 1]! >= lsn) this.size--;
    this.lastLsn = this.size === 0 ? NO_LSN : this.lsns[this.size - 1]!;
    this.nextOffset = this.size === 0 ? 0 : this.offsets[this.size - 1]! + FRAME_INDEX_SPACING;
    this.version++;
  }

  /** Forgets every entry (another process cut the log: offsets may hold other frames now). */
  clear(): void {
    this.cutFrom(this.firstLsn);
  }
}
