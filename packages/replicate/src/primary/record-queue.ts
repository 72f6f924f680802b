import type { WalRecordInput } from '@walnut/codec';

/** Dropped entries are spliced off the front once there are this many and they are half. */
const COMPACT_AT = 4096;

/**
 * The durable records a shipper has not yet seen stored, in LSN order, split at `sendIndex`
 * into those handed to a publish and those still to send. Parallel arrays read from `head`:
 * dropping the stored front moves an index instead of shifting, and the arrays are
 * compacted only once the dropped part is large.
 */
export class RecordQueue {
  private readonly lsns: bigint[] = [];
  private readonly records: WalRecordInput[] = [];
  private head = 0;
  /** Index of the first queued record not yet handed to a publish. */
  sendIndex = 0;

  /** One past the last queued record's index. */
  get end(): number {
    return this.lsns.length;
  }

  /** Every queued record was handed to a publish. */
  get allSent(): boolean {
    return this.sendIndex >= this.lsns.length;
  }

  lsnAt(index: number): bigint {
    return this.lsns[index]!;
  }

  recordAt(index: number): WalRecordInput {
    return this.records[index]!;
  }

  /** The records from `from` up to, not including, `to`. */
  slice(from: number, to: number): WalRecordInput[] {
    return this.records.slice(from, to);
  }

  /** The LSN the record at `index` must have to follow without a hole; `stored` is the stream's last. */
  expectedAt(index: number, stored: bigint): bigint {
    return index === this.head ? stored + 1n : this.lsns[index - 1]! + 1n;
  }

  /** The LSN before the oldest queued record, or `stored` when none is queued. */
  keptFrom(stored: bigint): bigint {
    return this.head < this.lsns.length ? this.lsns[this.head]! - 1n : stored;
  }

  /**
   * Queues a record; it comes after `stored` (the stream's last). Records come in LSN
   * order; one out of order (never seen with the Wal, which resolves in LSN order) goes in
   * its place among the unsent.
   */
  push(lsn: bigint, record: WalRecordInput, stored: bigint): void {
    const last = this.lsns.length > this.head ? this.lsns[this.lsns.length - 1]! : stored;
    if (lsn > last) {
      this.lsns.push(lsn);
      this.records.push(record);
      return;
    }
    let at = this.lsns.length;
    while (at > Math.max(this.head, this.sendIndex) && this.lsns[at - 1]! > lsn) at--;
    this.lsns.splice(at, 0, lsn);
    this.records.splice(at, 0, record);
  }

  /** Records read back from the log, in LSN order, go where their LSNs belong. */
  insert(page: readonly { lsn: bigint; record: WalRecordInput }[]): void {
    if (page.length === 0) return;
    let at = this.head;
    while (at < this.lsns.length && this.lsns[at]! < page[0]!.lsn) at++;
    // In chunks: a spread of a whole page could pass the engine's argument limit.
    for (let i = 0; i < page.length; i += 8192) {
      const chunk = page.slice(i, i + 8192);
      this.lsns.splice(at + i, 0, ...chunk.map((r) => r.lsn));
      this.records.splice(at + i, 0, ...chunk.map((r) => r.record));
    }
  }

  /** Everything queued is to be sent again, from the oldest record. */
  rewind(): void {
    this.sendIndex = this.head;
  }

  /** Records up to `lsn` count as sent (they went again as they were). */
  sentThrough(lsn: bigint): void {
    while (this.sendIndex < this.lsns.length && this.lsns[this.sendIndex]! <= lsn) {
      this.sendIndex++;
    }
  }

  /** Forgets the records up to `stored`: the stream holds them. */
  dropThrough(stored: bigint): void {
    let head = this.head;
    while (head < this.lsns.length && this.lsns[head]! <= stored) head++;
    this.head = head;
    if (this.sendIndex < head) this.sendIndex = head;
    if (head === this.lsns.length) {
      this.lsns.length = 0;
      this.records.length = 0;
      this.head = 0;
      this.sendIndex = 0;
    } else if (head >= COMPACT_AT && head * 2 >= this.lsns.length) {
      this.lsns.splice(0, head);
      this.records.splice(0, head);
      this.sendIndex -= head;
      this.head = 0;
    }
  }
}
