/**
 * Points (LSN, bytes appended up to and including it) taken about every `every` bytes, so
 * that the append queue can count bytes as settled as soon as the engine reports their
 * records written, instead of when a whole flush completes (docs/decisions/0605).
 * One comparison per append; a push per mark.
 */
export class SettleMarks {
  private lsns: bigint[] = [];
  private bytes: number[] = [];
  private head = 0;
  /** Take the next mark once this many bytes were appended. */
  nextAt: number;

  constructor(private readonly every: number) {
    this.nextAt = every;
  }

  add(lsn: bigint, bytesAppended: number): void {
    this.lsns.push(lsn);
    this.bytes.push(bytesAppended);
    this.nextAt = bytesAppended + this.every;
  }

  /** Bytes appended up to the last mark whose record is written by `writtenLsn`; -1 if none. */
  settledBy(writtenLsn: bigint): number {
    let settled = -1;
    const lsns = this.lsns;
    let head = this.head;
    while (head < lsns.length && lsns[head]! <= writtenLsn) settled = this.bytes[head++]!;
    if (head === lsns.length) {
      this.lsns = [];
      this.bytes = [];
      head = 0;
    }
    this.head = head;
    return settled;
  }

  /** Forgets marks of records that were rolled back (their LSNs will be assigned again). */
  dropAbove(lsn: bigint): void {
    while (this.lsns.length > this.head && this.lsns[this.lsns.length - 1]! > lsn) {
      this.lsns.pop();
      this.bytes.pop();
    }
  }
}
