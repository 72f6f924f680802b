import { type Wal, WalError, WalErrorCode, type WalRecord } from '@walnut/wal';

/**
 * LSNs past the last one read beyond which the next read seeks (a new iterator) instead of
 * reading on through the records between: other streams' records, which a seek skips. In
 * the segment being written a seek reads about 512 bytes to a few KiB around its record
 * (decision 0344), what reading on through a few small records costs; in a sealed one it
 * reads the segment from its start, so it pays only over a long stretch.
 */
const SEEK_AFTER = 4n;
const SEEK_AFTER_SEALED = 4096n;

/**
 * Reads the log records of one stream, in ascending LSN order, for one read call. The Wal has
 * no read of one LSN (decision 0710), but an iterator from an LSN starts near its frame (in
 * the segment being written; a sealed one is read from its start) and reads a record's worth
 * first (decision 0344): one iterator reads on through nearby records, and seeks again over
 * a stretch of others.
 */
export class StreamRecordReader {
  private records: AsyncIterableIterator<WalRecord> | null = null;
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
    const seekAfter = lsn > this.activeFirst ? SEEK_AFTER : SEEK_AFTER_SEALED;
    for (;;) {
      if (this.records === null || lsn <= this.at || lsn - this.at > seekAfter) {
        await this.close();
        this.records = this.wal.iterator(lsn);
      }
      for (;;) {
        const { value, done } = await this.records.next();
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
