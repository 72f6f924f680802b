import type { KeyRing, WalRecord } from '@walnut/codec';
import type { StorageIo } from '@walnut/storage-io';
import { DEFAULT_READ_CHUNK } from '../files/chunk-reader.js';
import type { Segment } from '../files/segment.js';
import { ReplayIterator, type ReplayPosition, type ReplaySource } from './replay.js';

/**
 * Where recent pages stopped, one per reader coming back: tails that drift apart (cursor
 * consumers committing as they go) each find their own, where a single remembered position
 * sent all but one to rescan the segment from its start on every page (bench W7).
 */
const PAGE_HINTS = 16;

/**
 * Replays for SegmentedWal: streams, and pages of records that remember where the last
 * page stopped, so that a reader coming back for the next page (Wal.tail after each group
 * commit) resumes at that frame instead of scanning its segment from the start.
 */
export interface PagerSource {
  io: StorageIo;
  writeBufferSize: number;
  ring(): KeyRing | undefined;
  segments(): readonly Segment[];
  /** Records up to this LSN may be read. */
  readableLsn(): bigint;
}

export class ReplayPager {
  private readonly options: PagerSource;
  /** Where the next pages start, by the LSN a call must come from; oldest first. */
  private readonly pageHints = new Map<bigint, ReplayPosition>();

  constructor(options: PagerSource) {
    this.options = options;
  }

  /** Opens a replay of the records with LSN ≥ `lsn` written when it is opened (from this source). */
  from(lsn: bigint): () => ReplayIterator {
    const source = this.snapshot();
    return () => new ReplayIterator(source, lsn);
  }

  /**
   * Records from `lsn` with their frames' positions (`position()`), starting at `resume` when
   * given, read `chunkSize` bytes at a time: for a reader that reads only a stretch.
   */
  walk(lsn: bigint, resume: ReplayPosition | undefined, chunkSize: number): ReplayIterator {
    return new ReplayIterator({ ...this.snapshot(), chunkSize }, lsn, resume, true);
  }

  /** Up to `max` records from `lsn`, and whether more follow. */
  async page(lsn: bigint, max: number): Promise<{ records: WalRecord[]; hasMore: boolean }> {
    const hint = this.pageHints.get(lsn);
    const it = new ReplayIterator(this.snapshot(), lsn, hint, true);
    const records: WalRecord[] = [];
    try {
      for (;;) {
        // A promise only per chunk: what the chunk at hand holds is taken directly.
        let record = it.nextAtHand();
        if (record === null) {
          const step = await it.next();
          if (step.done === true) {
            // A reader that comes back for what is written next starts at the last frame read.
            const last = records[records.length - 1];
            const at = last === undefined ? null : it.position();
            if (at !== null) this.remember(last!.lsn + 1n, at);
            return { records, hasMore: false };
          }
          record = step.value;
        }
        if (records.length === max) {
          const at = it.position();
          if (at !== null) this.remember(record.lsn, at);
          return { records, hasMore: true };
        }
        records.push(record);
        if (records.length === max && it.moreFollow(record.lsn)) {
          // A point read (decision 0344) need not read on to see that more follow. Coming
          // back, a reader skips this record's frame.
          const at = it.position();
          if (at !== null) this.remember(record.lsn + 1n, at);
          return { records, hasMore: true };
        }
      }
    } finally {
      await it.return();
    }
  }

  /**
   * Drops every remembered position: after a suffix cut found by a read-only opener, an LSN
   * above the cut is at another offset in the new history (the writer rebuilds its pager).
   */
  forget(): void {
    this.pageHints.clear();
  }

  private remember(lsn: bigint, at: ReplayPosition): void {
    const hints = this.pageHints;
    hints.delete(lsn);
    hints.set(lsn, at);
    if (hints.size > PAGE_HINTS) hints.delete(hints.keys().next().value!);
  }

  /** The source as it is now: a replay keeps the key ring set when it starts. */
  private snapshot(): ReplaySource {
    const o = this.options;
    return {
      io: o.io,
      ring: o.ring(),
      chunkSize: Math.max(DEFAULT_READ_CHUNK, o.writeBufferSize),
      segments: o.segments,
      readableLsn: o.readableLsn,
    };
  }
}
