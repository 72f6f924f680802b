import type { DamageKind, FrameStop } from '@walnut/codec';
import type { ReaderMode } from './mode.js';

/** Frames verified per run: enough to amortise a native call, small enough to stay in cache. */
export const RUN_FRAMES = 4096;

/**
 * Hands out runs of frames whose length and CRC32C are verified. After `nextRun()`
 * returned n > 0, frame i starts at index `runBase + table[2i]` of `runBuf` (file offset
 * `runFileOffset` + that index) and its body is `table[2i + 1]` bytes long. A return of 0
 * means the source stopped: `stopCode` says why, at file offset `stopOffset`.
 */
export interface FrameSource {
  readonly mode: ReaderMode;
  /** File size in bytes. */
  readonly length: number;
  readonly madviseState: 'sequential' | 'dontneed' | null;
  readonly table: Uint32Array;
  runBuf: Buffer;
  runBase: number;
  runFileOffset: number;
  /** File offset just past the last frame of the current run. */
  runEnd: number;
  stopCode: FrameStop;
  stopOffset: number;
  /** The first `min(n, length)` bytes of the file. */
  readPrefix(n: number): Buffer;
  /** Frames are read from this file offset on. */
  seek(offset: number): void;
  nextRun(): number;
  /** Judges the damage at `offset` (see FORMAT.md "End of log, torn tail, corruption"). */
  classify(offset: number, maxFrameBody: number): DamageKind;
  releasePages(): boolean;
  close(): void;
}
