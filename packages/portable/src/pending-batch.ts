import { encodeRecordFrame, recordFrameSize } from '@walnut/codec';

const INITIAL_ARENA = 64 * 1024;

/**
 * The data queued by `appendBatched` / `appendWithChecksumBatched`, copied once into an
 * arena (the caller may reuse its buffer as soon as the call returns). Checksummed
 * entries are framed only when the batch is written, so their LSNs follow file order
 * even when direct appends land in between.
 */
export class PendingBatch {
  private arena: Buffer;
  private used = 0;
  private readonly starts: number[] = [];
  private readonly lengths: number[] = [];
  private readonly framed: boolean[] = [];
  private records = 0;
  /** Bytes this batch occupies in the file once written. */
  fileBytes = 0;

  constructor(capacityHint: number) {
    this.arena = Buffer.allocUnsafe(Math.min(INITIAL_ARENA, Math.max(capacityHint, 1)));
  }

  get ops(): number {
    return this.starts.length;
  }

  get recordCount(): number {
    return this.records;
  }

  add(data: Uint8Array, asRecord: boolean): void {
    if (this.used + data.length > this.arena.length) this.grow(this.used + data.length);
    this.arena.set(data, this.used);
    this.starts.push(this.used);
    this.lengths.push(data.length);
    this.framed.push(asRecord);
    this.used += data.length;
    if (asRecord) {
      this.records++;
      this.fileBytes += recordFrameSize({ payload: data });
    } else {
      this.fileBytes += data.length;
    }
  }

  /** The exact bytes to write; record frames get consecutive LSNs from `firstLsn`. */
  encode(firstLsn: bigint): Buffer {
    if (this.records === 0) return this.arena.subarray(0, this.used);
    const out = Buffer.allocUnsafe(this.fileBytes);
    let at = 0;
    let lsn = firstLsn;
    for (let i = 0; i < this.starts.length; i++) {
      const start = this.starts[i]!;
      const data = this.arena.subarray(start, start + this.lengths[i]!);
      if (this.framed[i]) {
        at += encodeRecordFrame(out, at, lsn, { payload: data });
        lsn += 1n;
      } else {
        out.set(data, at);
        at += data.length;
      }
    }
    return out;
  }

  private grow(needed: number): void {
    let size = this.arena.length * 2;
    while (size < needed) size *= 2;
    const bigger = Buffer.allocUnsafe(size);
    this.arena.copy(bigger, 0, 0, this.used);
    this.arena = bigger;
  }
}
