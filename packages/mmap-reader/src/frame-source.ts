import type { ReaderMode } from './mode.js';

/** Why a frame source stopped handing out frames (the values of `native/frame_scan.h`). */
export const StopCode = {
  TABLE_FULL: 0,
  END: 1,
  SHORT_HEADER: 2,
  ZERO_HEADER: 3,
  BAD_LENGTH: 4,
  BEYOND_END: 5,
  CRC_MISMATCH: 6,
} as const;
export type StopCode = (typeof StopCode)[keyof typeof StopCode];

export type DamageKind = 'eof' | 'torn' | 'corrupt';

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
  stopCode: StopCode;
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

/** Words for a stop code, used in stop reasons and error messages. */
export function describeStop(code: StopCode): string {
  switch (code) {
    case StopCode.SHORT_HEADER:
      return 'fewer bytes left than a frame header';
    case StopCode.ZERO_HEADER:
      return 'a zero frame header';
    case StopCode.BAD_LENGTH:
      return 'a frame length of 0 or over the limit';
    case StopCode.BEYOND_END:
      return 'a frame length running past the end of the file';
    case StopCode.CRC_MISMATCH:
      return 'a frame CRC32C mismatch';
    default:
      return 'end of data';
  }
}
