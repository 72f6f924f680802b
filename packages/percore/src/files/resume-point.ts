import { FILE_HEADER_SIZE } from '@walnut/codec';

/** A known-good entry boundary of a core file: where to resume without rescanning before it. */
export interface ResumePoint {
  /** File offset just after the entry. */
  readonly position: number;
  /** Sequence of the entry ending at `position` (0n at the file header). */
  readonly sequence: bigint;
  readonly epoch: bigint;
  readonly timestampNs: bigint;
}

/** The boundary of a core file that holds no entry yet: just after its header. */
export const HEADER_RESUME_POINT: ResumePoint = Object.freeze({
  position: FILE_HEADER_SIZE,
  sequence: 0n,
  epoch: 0n,
  timestampNs: 0n,
});
