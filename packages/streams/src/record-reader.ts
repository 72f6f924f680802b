import { type Wal, WalError, WalErrorCode, type WalRecord } from '@walnut/wal';
import { lastAtOrBefore } from './sorted.js';

/**
 * LSNs past the last one read beyond which the next read in the segment being written seeks
 * (a new iterator) instead of reading on through the records between: other streams'
 * records, which a seek skips. There a seek reads about 512 bytes to a few KiB around its
 * record (decision 0344), what reading on through a few small records costs.
 */
const SEEK_AFTER = 4n;

/**
 * Reads the log records of one stream, in ascending LSN order, for one read call. The Wal has
 * no read of one LSN (decision 0710), but an iterator from an LSN starts near its frame in
 * the segment being written and reads a record's worth first (decision 0344): one iterator
 * reads on through nearby records, and seeks again over a stretch of others. A sealed
 * segment is read from its start (decision 0719), so there a seek pays only to reach a later
 * segment.
 */
export class StreamRecordReader {
  private records: AsyncIterableIterator<WalRecord> | null = null;
  /** The LSN of the record the iterator handed out last. */
  private at = -1n;
  private flushed = false;
  /** The first LSN of the segment being written when this read started. */
  private readonly activeFirst: bigint;
  /** Each segment's first LSN, oldest first, listed when a read first lands in a sealed one. */
  private firsts: bigint[] | undefined;

  constructor(private readonly wal: Wal) {
    this.activeFirst = wal.stats().activeSegmentFirstLsn;
  }

  /** The payload of record `lsn`, which is above every LSN asked for before. */
  async read(lsn: bigint): Promise<Buffer> {
    for (;;) {
      let records = this.records;
      if (records === null || (await this.mustSeek(lsn))) {
        await this.close();
        records = this.wal.iterator(lsn);
        this.records = records;
      }
      for (;;) {
        const { value, done } = await records.next();
        if (done) break;
        this.at = value.lsn;
        if (value.lsn === lsn) return value.payload;
        if (value.lsn > lsn) throw notAnAppend(lsn);
      }
      // Readers see what was written to the OS only, and under durability 'none' or
      // 'interval' an append is acknowledged before that: such a record is read after a
      // `flush()`, once.
      await this.close();
      if (this.flushed) throw notAnAppend(lsn);
      this.flushed = true;
      await this.wal.flush();
    }
  }

  /** Whether reaching `lsn` from the open iterator takes a new one: only a cost. */
  private async mustSeek(lsn: bigint): Promise<boolean> {
    if (lsn <= this.at) return true;
    if (lsn > this.activeFirst) return this.at < this.activeFirst || lsn - this.at > SEEK_AFTER;
    return this.at < (await this.segmentFirst(lsn));
  }

  /** The first LSN of the segment holding `lsn`, from the segments listed once per read. */
  private async segmentFirst(lsn: bigint): Promise<bigint> {
    this.firsts ??= (await this.wal.segments()).map((s) => s.firstLsn);
    return this.firsts[lastAtOrBefore(this.firsts, lsn)] ?? 0n;
  }

  async close(): Promise<void> {
    const records = this.records;
    this.records = null;
    this.at = -1n;
    await records?.return?.();
  }
}

export function notAnAppend(lsn: bigint): WalError {
  return new WalError(
    WalErrorCode.CORRUPT,
    `the stream index names record ${lsn}, which the log does not hold as an append; reopen the streams to rebuild the index`,
    { details: { lsn } },
  );
}
