import { addonNumber, classifyDamage, type DamageKind, FrameStop, walkFrames } from '@walnut/codec';
import type { FrameSource } from './frame-source.js';
import { RUN_FRAMES } from './frame-source.js';
import { Advice, type NativeMmap } from './native.js';

/**
 * Pages this far behind the scan position are marked cold (MADV_COLD: the first the kernel
 * reclaims under pressure; a later touch of a view faults them back in). Not DONTNEED: on
 * this private mapping it would discard what a caller wrote into a payload it still holds.
 * Segments smaller than twice this never pay for it.
 */
const DROP_BEHIND = 256 * 1024 * 1024;

/**
 * Ahead of the scan, MADV_POPULATE_READ (Linux 5.14+) maps this much of the file in one
 * call instead of one page fault per 64 KiB; on older kernels the call fails harmlessly.
 */
const POPULATE_STEP = 4 * 1024 * 1024;

const EMPTY = Buffer.alloc(0);

/** A copy-on-write mapping of the whole file, frames verified in bulk by the codec's walk. */
export class MappedFrameSource implements FrameSource {
  readonly mode = 'mmap' as const;
  readonly length: number;
  readonly path: string;
  /** Owned by the garbage collector: every view of `buf` keeps the mapping alive. */
  private readonly mapping: ArrayBuffer | null;
  private readonly addon: NativeMmap;
  private readonly maxBody: number;
  /** Bytes of the file past `length` exist but may be in flight or cut back: never touched. */
  private readonly bounded: boolean;
  private advice: 'sequential' | 'dontneed' | null;
  readonly buf: Buffer;
  readonly table = new Uint32Array(RUN_FRAMES * 2);
  runBuf: Buffer;
  runBase = 0;
  readonly runFileOffset = 0;
  runEnd = 0;
  stopCode: FrameStop = FrameStop.TABLE_FULL;
  stopOffset = 0;
  private readonly status = new Float64Array(2);
  private droppedTo = 0;
  private populatedTo = 0;

  /** `end`: the file is read as if it ended there (when it is longer). */
  constructor(path: string, addon: NativeMmap, maxBody: number, end: number) {
    const [mapping, size, advised] = addon.mapFile(path);
    this.path = path;
    this.addon = addon;
    this.maxBody = maxBody;
    this.mapping = mapping;
    this.length = Math.min(size, end);
    this.bounded = this.length < size;
    this.buf = mapping === null ? EMPTY : Buffer.from(mapping, 0, this.length);
    this.runBuf = this.buf;
    this.advice = advised ? 'sequential' : null;
  }

  get madviseState(): 'sequential' | 'dontneed' | null {
    return this.advice;
  }

  readPrefix(n: number): Buffer {
    return this.buf.subarray(0, Math.min(n, this.length));
  }

  seek(offset: number): void {
    this.stopCode = FrameStop.TABLE_FULL;
    this.stopOffset = Math.min(offset, this.length);
    this.runEnd = this.stopOffset;
    this.droppedTo = 0;
  }

  nextRun(): number {
    const mapping = this.mapping;
    if (this.stopCode !== FrameStop.TABLE_FULL) return 0;
    const from = this.stopOffset;
    if (mapping === null) {
      this.stopCode = FrameStop.END;
      return 0;
    }
    this.dropBehind(mapping, from);
    this.populate(mapping, from);
    const status = this.status;
    const count = walkFrames(this.buf, from, this.length, this.maxBody, status, this.table);
    this.runBase = from;
    this.stopCode = addonNumber(status[0]!) as FrameStop;
    this.stopOffset = addonNumber(status[1]!);
    this.runEnd = this.stopOffset;
    return count;
  }

  private populate(mapping: ArrayBuffer, position: number): void {
    if (this.populatedTo < position) this.populatedTo = position;
    if (this.populatedTo - position >= POPULATE_STEP / 2 || this.populatedTo >= this.length) return;
    const step = Math.min(POPULATE_STEP, this.length - this.populatedTo);
    this.addon.advise(mapping, this.populatedTo, step, Advice.POPULATE_READ);
    this.populatedTo += POPULATE_STEP;
  }

  private dropBehind(mapping: ArrayBuffer, position: number): void {
    if (position - this.droppedTo < 2 * DROP_BEHIND) return;
    const to = position - DROP_BEHIND;
    this.addon.advise(mapping, this.droppedTo, to - this.droppedTo, Advice.COLD);
    this.droppedTo = to;
  }

  classify(offset: number, maxFrameBody: number): DamageKind {
    if (this.mapping === null || offset >= this.length) return 'eof';
    // The native check skips the holes of a sparse file instead of faulting them in, but
    // reads to the file's end, which a bounded reader must not touch.
    if (!this.bounded && this.addon.isZeroFrom(this.mapping, this.path, offset)) return 'eof';
    return classifyDamage(this.buf, offset, maxFrameBody);
  }

  releasePages(): boolean {
    if (this.mapping === null) return false;
    // PAGEOUT lets go of clean pages only: bytes a caller wrote into a view stay its own.
    const unmapped = this.addon.advise(this.mapping, 0, this.length, Advice.PAGEOUT);
    const dropped = this.addon.fadviseDontneed(this.path);
    if (unmapped) this.advice = 'dontneed';
    return unmapped && dropped;
  }

  close(): void {
    // Nothing to free: the mapping goes when the last view of it is collected.
  }
}
