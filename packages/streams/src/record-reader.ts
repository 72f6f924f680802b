import { type Wal, WalError, WalErrorCode, type WalIterator } from '@walnut/wal';

/**
 * LSNs past the last one read beyond which the next read in the segment being written seeks
 * (a new iterator) instead of moving the iterator on through the records between: other
 * streams' records, which a seek skips. There a seek reads about 512 bytes to a few KiB
 * around its record (decision 0344), what passing a few small records costs.
 */
const SEEK_AFTER = 4n;

/**
 * Reads the log records of one stream, in ascending LSN order, for one read call. The Wal has
 * no read of one LSN (decision 0710), but an iterator from an LSN starts near its frame in
 * the segment being written (decision 0344), and an iterator moved on with `skipTo` passes
 * the records between without handing them out. In sealed segments, which the Wal reads
 * through a map from their start, one iterator moves on for the whole read (decision 0410);
 * in the segment being written, a stretch of others is sought over with a new iterator.
 */
export class StreamRecordReader {
  private records: WalIterator | null = null;
  /** The LSN of the record the iterator handed out last. */
  private at = -1n;
  private flushed = false;
  /** The first LSN of the segment being written when this read started. */
  private readonly activeFirst: bigint;

  constructor(private readonly wal: Wal) {
    this.activeFirst = wal.stats().activeSegmentFirstLsn;
  }

  /** The payload of record `lsn`, which is above every LSN asked for before. */
  async read(lsn: bigint): Promise<Buffer> {
    for (;;) {
      let records = this.records;
      if (records === null || this.mustSeek(lsn)) {
        await this.close();
        records = this.wal.iterator(lsn);
        this.records = records;
      } else records.skipTo(lsn);
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

  /** Whether reaching `lsn` takes a new iterator rather than moving the open one on: only a cost. */
  private mustSeek(lsn: bigint): boolean {
    if (lsn <= this.at) return true;
    if (lsn <= this.activeFirst) return false;
    return this.at < this.activeFirst || lsn - this.at > SEEK_AFTER;
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
