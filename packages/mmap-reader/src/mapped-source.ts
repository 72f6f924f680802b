import { classifyDamage } from '@walnut/codec';
import type { FrameSource } from './frame-source.js';
import { type DamageKind, StopCode } from './frame-source.js';
import { Advice, type NativeMmap } from './native.js';

/** Frames verified per native call: enough to amortise the call, small enough to stay in cache. */
const TABLE_FRAMES = 4096;
/** Read-ahead asked of the kernel (MADV_WILLNEED) this far beyond the scan position. */
const READ_AHEAD = 16 * 1024 * 1024;
const READ_AHEAD_STEP = 4 * 1024 * 1024;
/**
 * Pages this far behind the scan position are unmapped from the process (MADV_DONTNEED on
 * a read-only shared mapping only drops page-table entries: the page cache keeps the data
 * and a later touch of a view faults it back in). Keeps the resident size of a huge
 * segment bounded while it is read end to end.
 */
const DROP_BEHIND = 64 * 1024 * 1024;

const EMPTY = Buffer.alloc(0);

/** A read-only mapping of the whole file, frames verified in bulk by the native scanner. */
export class MappedFrameSource implements FrameSource {
  readonly mode = 'mmap' as const;
  readonly length: number;
  readonly path: string;
  /** Owned by the garbage collector: every view of `buf` keeps the mapping alive. */
  readonly #mapping: ArrayBuffer | null;
  readonly #addon: NativeMmap;
  readonly #maxBody: number;
  #advice: 'sequential' | 'dontneed' | null;
  buf: Buffer;
  bodyStart = 0;
  bodyEnd = 0;
  frameOffset = 0;
  stopCode: StopCode = StopCode.TABLE_FULL;
  stopOffset = 0;
  readonly #table = new Uint32Array(TABLE_FRAMES * 2);
  readonly #status = new Float64Array(2);
  /** File offset the table's relative offsets count from. */
  #tableBase = 0;
  #count = 0;
  #next = 0;
  #readAheadTo = 0;
  #droppedTo = 0;

  constructor(path: string, addon: NativeMmap, maxBody: number) {
    const [mapping, size, advised] = addon.mapFile(path);
    this.path = path;
    this.#addon = addon;
    this.#maxBody = maxBody;
    this.#mapping = mapping;
    this.length = size;
    this.buf = mapping === null ? EMPTY : Buffer.from(mapping);
    this.#advice = advised ? 'sequential' : null;
  }

  get madviseState(): 'sequential' | 'dontneed' | null {
    return this.#advice;
  }

  readPrefix(n: number): Buffer {
    return this.buf.subarray(0, Math.min(n, this.length));
  }

  seek(offset: number): void {
    this.#count = 0;
    this.#next = 0;
    this.stopCode = StopCode.TABLE_FULL;
    this.stopOffset = Math.min(offset, this.length);
    this.#droppedTo = 0;
  }

  next(): boolean {
    while (this.#next === this.#count) {
      if (this.stopCode !== StopCode.TABLE_FULL) return false;
      this.#refill();
    }
    const i = this.#next++ * 2;
    const table = this.#table;
    const frame = this.#tableBase + table[i]!;
    this.frameOffset = frame;
    this.bodyStart = frame + 8;
    this.bodyEnd = frame + 8 + table[i + 1]!;
    return true;
  }

  #refill(): void {
    const mapping = this.#mapping;
    const from = this.stopOffset;
    if (mapping === null) {
      this.#count = 0;
      this.#next = 0;
      this.stopCode = StopCode.END;
      return;
    }
    this.#adviseAround(mapping, from);
    const status = this.#status;
    this.#count = this.#addon.scanFrames(
      mapping,
      from,
      this.length,
      this.#maxBody,
      this.#table,
      status,
    );
    this.#next = 0;
    this.#tableBase = from;
    this.stopCode = status[0] as StopCode;
    this.stopOffset = status[1]!;
  }

  #adviseAround(mapping: ArrayBuffer, position: number): void {
    const addon = this.#addon;
    if (this.#readAheadTo < position) this.#readAheadTo = position;
    while (this.#readAheadTo < this.length && this.#readAheadTo < position + READ_AHEAD) {
      addon.advise(mapping, this.#readAheadTo, READ_AHEAD_STEP, Advice.WILLNEED);
      this.#readAheadTo += READ_AHEAD_STEP;
    }
    if (position - this.#droppedTo >= 2 * DROP_BEHIND) {
      const to = position - DROP_BEHIND;
      addon.advise(mapping, this.#droppedTo, to - this.#droppedTo, Advice.DONTNEED);
      this.#droppedTo = to;
    }
  }

  classify(offset: number, maxFrameBody: number): DamageKind {
    if (this.#mapping === null || offset >= this.length) return 'eof';
    // The native check skips the holes of a sparse file instead of faulting them in.
    if (this.#addon.isZeroFrom(this.#mapping, this.path, offset)) return 'eof';
    return classifyDamage(this.buf, offset, maxFrameBody);
  }

  releasePages(): boolean {
    if (this.#mapping === null) return false;
    const unmapped = this.#addon.advise(this.#mapping, 0, this.length, Advice.DONTNEED);
    const dropped = this.#addon.fadviseDontneed(this.path);
    if (unmapped) this.#advice = 'dontneed';
    return unmapped && dropped;
  }

  close(): void {
    // Nothing to free: the mapping goes when the last view of it is collected.
  }
}
