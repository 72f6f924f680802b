import { type Wal, WalError, WalErrorCode, type WalRecord } from '@walnut/wal';

/**
 * LSNs past the last one read beyond which the next read seeks (a new iterator) instead of
 * reading on through the records between: other streams' records, which a seek skips.
 */
const SEEK_AFTER = 4096n;

/**
 * Reads the log records of one stream, in ascending LSN order, for one read call. The Wal has
 * no read of one LSN (decision 0710) and an iterator starts by scanning its segment up to the
 * LSN asked for, so an iterator per record cost a segment's prefix each: one iterator reads on
 * through nearby records instead, and seeks again only over a long stretch of others.
 */
export class StreamRecordReader {
  private records: AsyncIterableIterator<WalRecord> | null = null;
  /** The LSN of the record the iterator handed out last. */
  private at = -1n;
  private flushed = false;

  constructor(private readonly wal: Wal) {}

  /** The payload of record `lsn`, which is above every LSN asked for before. */
  async read(lsn: bigint): Promise<Buffer> {
    for (;;) {
      if (this.records === null || lsn <= this.at || lsn - this.at > SEEK_AFTER) {
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
