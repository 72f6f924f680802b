import type { FileHeader, KeyRing, LsnGap } from '@walnut/codec';
import type { StorageIo } from '@walnut/storage-io';
import type { RecoveryMode, VerifyMode } from '../config.js';
import type { FrameIndex } from '../files/frame-index.js';

/** A segment as recovery found it. */
export interface RecoveredSegment {
  path: string;
  firstLsn: bigint;
  header: FileHeader;
  /** LSN of its last record; firstLsn - 1 when it holds none. */
  lastLsn: bigint;
  /** File offset after its last valid frame. */
  dataEnd: number;
  /** Size of the file (larger than dataEnd for a preallocated segment). */
  fileSize: number;
  /** The time of its last record, where recovery scanned the newest segment and it has one. */
  lastTime?: number;
  /** Where its frames start, where recovery scanned the newest segment whole (decision 0344). */
  frames?: FrameIndex;
}

/** A torn tail open() found: the remains of a write interrupted by a crash. */
export interface TornTail {
  segment: string;
  offset: number;
  /** Bytes from `offset` to the end of the file that were (or, read-only, would be) cut. */
  bytes: number;
  reason: string;
  /** False for a read-only opener, which reports but never modifies. */
  cut: boolean;
}

/** A stretch of damage salvage recovery gave up, keeping every intact record around it. */
export interface SalvageDrop {
  segment: string;
  /** Offset of the first dropped byte (0 for a whole segment, or for a missing one). */
  offset: number;
  bytes: number;
  reason: string;
  /** The LSNs lost with it (recorded in the log's GAPS file); null when it held none, or when it is unknowable. */
  lostLsns: LsnGap | null;
  /** Where a writer moved a dropped whole segment (it never deletes them). */
  movedTo?: string;
  /** The new segment file that holds the intact records found after this stretch. */
  splitTo?: string;
}

export interface RecoveryReport {
  mode: RecoveryMode;
  readOnly: boolean;
  /** Segments in the log after recovery. */
  segments: number;
  /**
   * Records in them (including any below the floor in the first segment): counted in the
   * segments open() read, and from their successors' first LSNs in those it did not.
   */
  records: number;
  floorLsn: bigint;
  /** Highest LSN in the log after recovery, 0n when empty. */
  lastLsn: bigint;
  tornTail: TornTail | null;
  salvaged: SalvageDrop[];
  /**
   * Every LSN range the log has no records for because a salvage (this one or an earlier
   * one) lost them to damage, at or above the floor. Readers skip exactly these; any other
   * hole is a missing segment.
   */
  gaps: LsnGap[];
  /** Leftovers a writer removed: unfinished segment creations, segments below the floor. */
  removedFiles: string[];
  /**
   * A `truncateAfter` that a crash interrupted, which this open finished before recovery:
   * the records after `afterLsn` are gone. Null when there was none.
   */
  finishedCut: FinishedCut | null;
}

export interface FinishedCut {
  afterLsn: bigint;
  /** Segments it deleted (the one it kept the prefix of not counted). */
  segmentsDeleted: number;
}

export interface RecoveryResult {
  segments: RecoveredSegment[];
  floorLsn: bigint;
  nextLsn: bigint;
  report: RecoveryReport;
}

export interface RecoveryOptions {
  io: StorageIo;
  dir: string;
  mode: RecoveryMode;
  readOnly: boolean;
  /** 'all' scans every segment; 'newest' (the default) only the newest (0311). */
  verify?: VerifyMode;
  /** The interrupted cut finished before recovery (see `RecoveryReport.finishedCut`). */
  finishedCut?: FinishedCut | null;
  /** See `ScanOptions.besideWriter`. */
  besideWriter?: boolean;
  ring: KeyRing | undefined;
}
