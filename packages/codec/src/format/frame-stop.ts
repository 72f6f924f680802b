/**
 * Why a walk over frames stopped: the values of `walnut_walk_stop` in native/frame_walk.h,
 * which the codec's addon hands to JavaScript as they are (`walkFrames`; frame-stop.test.ts
 * checks the two agree). `FrameRunStop` and mmap-reader's frame sources use these values.
 */
export const FrameStop = {
  /** The caller's table of frames is full; more frames may follow. */
  TABLE_FULL: 0,
  /** The next frame would start exactly at the end. */
  END: 1,
  /** Fewer bytes left than a frame header. */
  SHORT_HEADER: 2,
  /** CRC and length both zero: zero-filled space. */
  ZERO_HEADER: 3,
  /** Frame length 0 or over the limit. */
  BAD_LENGTH: 4,
  /** The frame body runs past the end. */
  BEYOND_END: 5,
  /** The stored CRC32C does not match the length and body. */
  CRC_MISMATCH: 6,
} as const;
export type FrameStop = (typeof FrameStop)[keyof typeof FrameStop];

/** Words for a stop, used in stop reasons and error messages. */
export function describeFrameStop(code: FrameStop): string {
  switch (code) {
    case FrameStop.SHORT_HEADER:
      return 'fewer bytes left than a frame header';
    case FrameStop.ZERO_HEADER:
      return 'a zero frame header';
    case FrameStop.BAD_LENGTH:
      return 'a frame length of 0 or over the limit';
    case FrameStop.BEYOND_END:
      return 'a frame length running past the end of the file';
    case FrameStop.CRC_MISMATCH:
      return 'a frame CRC32C mismatch';
    default:
      return 'end of data';
  }
}
