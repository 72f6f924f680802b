import type { KeyRing, ReadSlices, WalError, WalRecord, WalRecordInput } from '@walnut/codec';
import type {
  RecoveryReport,
  SegmentedWalConfig,
  SegmentInfo,
  SuffixCuts,
} from '@walnut/segmented';
import type { StorageIo } from '@walnut/storage-io';

// The seam between the Wal and its storage engine: every type either side of it names lives
// here, so the Wal, its builder and the engines import this file and never each other.

/**
 * @internal What the builder passes an engine: SegmentedWal's own configuration (one
 * declaration of every field), with the StorageIo always given, since the builder resolves it.
 */
export type EngineConfig = SegmentedWalConfig & { io: StorageIo };

/** @internal How a builder opens its engine (a SegmentedWal; a fake in tests). */
export interface EngineFactory {
  open(config: EngineConfig): Promise<LogEngine>;
  /** Segment reader for replay through a memory map, if any. */
  readonly openSegment?: (keyRing: KeyRing | undefined, io: StorageIo) => SegmentOpener | undefined;
}

/**
 * The records of one segment, in order, read through a memory map: a cursor rather than an
 * iterator, so a reader pays a plain call per record (no generator step).
 */
export interface SegmentRecords {
  /** The next record, or null at the end (or at damage: then `finish()` throws). */
  next(): WalRecord | null;
  /**
   * Hands the records `next()` would return to `fn` until the end (undefined) or until `fn`
   * returns a promise, or `slices` is spent, which it returns: await it and call again. A
   * loop without a call per record.
   */
  drain(fn: (record: WalRecord) => unknown, slices: ReadSlices): PromiseLike<unknown> | undefined;
  /**
   * Passes over the records below `lsn` without building them (`next()` goes on from there),
   * at most `steps` frames or runs a call: false when they ran out first (call again).
   */
  skipTo(lsn: bigint, steps: number): boolean;
  /** Throws WAL_CORRUPT if the segment stopped at damage: what was written whole is never torn. */
  finish(): void;
  close(): void;
}

/**
 * Opens a segment for reading, up to its `writtenBytes` when the engine gives them (it
 * throws if the file is gone).
 */
export type SegmentOpener = (segment: EngineSegment) => SegmentRecords;

/** What the Wal needs to know about one segment. */
export interface EngineSegment {
  readonly path: string;
  readonly firstLsn: bigint;
  readonly lastLsn: bigint | null;
  readonly sealed?: boolean;
  /**
   * How far the file holds whole frames written to the OS: a segment still being written may
   * be read up to here, and the engine never cuts it below. Absent: only through the engine.
   */
  readonly writtenBytes?: number;
}

/**
 * The part of `SegmentedWal` (from @walnut/segmented) the Wal drives. Keeping it this
 * narrow lets the queue, group commit and lifecycle be tested against a fake.
 */
export interface LogEngine {
  /**
   * The suffix cuts the engine knows of. A read-only engine records there the writer's cuts
   * its refreshes find, so that the Wal's readers judge themselves by them as they do by
   * the Wal's own `truncateAfter`; absent, the Wal keeps its own.
   */
  readonly suffixCuts?: SuffixCuts;
  /** Synchronously assigns the LSN and encodes the record into the write buffer. */
  append(record: WalRecordInput): bigint;
  /** `append({ payload })`, without the record object (the common case's hot path). */
  appendPayload(payload: Uint8Array): bigint;
  /**
   * `appendPayload` for each payload, in order; returns the last LSN. Checks every payload
   * before appending any.
   */
  appendPayloads(payloads: readonly Uint8Array[]): bigint;
  /** Atomic (one frame); returns the last LSN. With `firstLsn`, WAL_LSN_MISMATCH unless it is nextLsn. */
  appendBatch(records: readonly WalRecordInput[], firstLsn?: bigint): bigint;
  /** Everything appended so far reaches the OS; resolves with writtenLsn. */
  flush(): Promise<bigint>;
  /** Everything appended before the call is durable; resolves with durableLsn. */
  sync(): Promise<bigint>;
  readonly nextLsn: bigint;
  readonly writtenLsn: bigint;
  readonly durableLsn: bigint;
  /** Records up to this LSN may be in the files (their writes went to the OS); none after it is. */
  readonly submittedLsn: bigint;
  readonly activeSegmentFirstLsn: bigint;
  readonly floorLsn: bigint;
  onDurable(listener: (durableLsn: bigint) => void): () => void;
  /**
   * Called when the engine rolled back writes that failed for lack of space: the log now
   * ends at `lastLsn`, and the records after it (never acknowledged) are gone.
   */
  onRollback(listener: (lastLsn: bigint, error: WalError) => void): () => void;
  /** Optional: called as writtenLsn advances, so the Wal's queue can settle before a flush ends. */
  onWritten?(listener: (writtenLsn: bigint) => void): () => void;
  /**
   * Optional: called as writes complete, their bytes out of memory, which may be before
   * writtenLsn covers them (SegmentedWal: a new segment waiting for its name). The Wal's
   * queue, which bounds memory, settles on this one where the engine has it.
   */
  onWriteCompleted?(listener: (completedLsn: bigint) => void): () => void;
  /** Optional: takes in finished writes now, without waiting for the event loop (onWritten fires). */
  reapCompletions?(): void;
  /** Optional: true when a `reapCompletions()` now would hand the engine a file it needs soon. */
  readonly wantsReap?: boolean;
  truncateBefore(lsn: bigint): Promise<{ segmentsDeleted: number; bytesReclaimed: number }>;
  /** Cuts the log after `lsn` durably (SegmentedWal's; absent: the engine cannot). */
  truncateAfter?(
    lsn: bigint,
  ): Promise<{ afterLsn: bigint; recordsRemoved: bigint; segmentsDeleted: number }>;
  replayFromLimit(lsn: bigint, max: number): Promise<{ records: WalRecord[]; hasMore: boolean }>;
  listSegments(): Promise<readonly SegmentInfo[]>;
  /** The first LSN whose record's time is ≥ `t` (SegmentedWal's, decision 0350; absent: the engine keeps no times). */
  lsnAtTime?(t: number): Promise<bigint>;
  /** Every record below the LSN it resolves with was appended before `t` (SegmentedWal's, decision 0633). */
  segmentsBefore?(t: number): Promise<bigint>;
  /** The log's time now, by its clock (SegmentedWal's; with `segmentsBefore`). */
  logTime?(): number;
  readonly io: StorageIo;
  /** What opening found and did (SegmentedWal's report). */
  readonly recoveryReport: RecoveryReport;
  /** The engine's own counters (SegmentedWal: writes, bytes written, fdatasyncs, segments created…). */
  stats?(): object;
  /**
   * Forgets the appended records above `lsn` whose bytes never left the process (never
   * below `submittedLsn`; a batch whole); returns the highest LSN that may still reach the
   * log. Called as the Wal closes.
   */
  dropUnsubmittedAbove(lsn: bigint): bigint;
  /**
   * Read-only engines: catch up with what a writer appended since, made durable; resolves
   * with writtenLsn and notifies `onDurable` listeners.
   */
  refresh?(): Promise<bigint>;
  /** Writes what is appended (no sync); idempotent; releases the directory lock. */
  close(): Promise<void>;
}
