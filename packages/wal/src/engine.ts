import type { WalRecord, WalRecordInput } from '@walnut/codec';
import type { StorageIo } from '@walnut/storage-io';

/** What the Wal needs to know about one segment. */
export interface EngineSegment {
  readonly path: string;
  readonly firstLsn: bigint;
  readonly lastLsn: bigint | null;
  readonly sealed?: boolean;
}

/**
 * The part of `SegmentedWal` (from @walnut/segmented) the Wal drives. Keeping it this
 * narrow lets the queue, group commit and lifecycle be tested against a fake.
 */
export interface LogEngine {
  /** Synchronously assigns the LSN and encodes the record into the write buffer. */
  append(record: WalRecordInput): bigint;
  /** `append({ payload })`, without the record object (the common case's hot path). */
  appendPayload(payload: Uint8Array): bigint;
  /** Atomic (one frame); returns the last LSN. With `firstLsn`, WAL_LSN_MISMATCH unless it is nextLsn. */
  appendBatch(records: readonly WalRecordInput[], firstLsn?: bigint): bigint;
  /** Everything appended so far reaches the OS; resolves with writtenLsn. */
  flush(): Promise<bigint>;
  /** Everything appended before the call is durable; resolves with durableLsn. */
  sync(): Promise<bigint>;
  readonly nextLsn: bigint;
  readonly writtenLsn: bigint;
  readonly durableLsn: bigint;
  readonly activeSegmentFirstLsn: bigint;
  readonly floorLsn: bigint;
  onDurable(listener: (durableLsn: bigint) => void): () => void;
  /** Optional: called as writtenLsn advances, so the Wal's queue can settle before a flush ends. */
  onWritten?(listener: (writtenLsn: bigint) => void): () => void;
  truncateBefore(lsn: bigint): Promise<{ segmentsDeleted: number; bytesReclaimed: number }>;
  replayFromLimit(lsn: bigint, max: number): Promise<{ records: WalRecord[]; hasMore: boolean }>;
  listSegments(): Promise<readonly EngineSegment[]>;
  readonly io: StorageIo;
  /** The engine's own counters (SegmentedWal: writes, bytes written, fdatasyncs, segments created…). */
  stats?(): object;
  /** Does not sync; idempotent; releases the directory lock. */
  close(): Promise<void>;
}
