export type { WalRecord, WalRecordInput } from '@walnut/codec';
export {
  isWalError,
  KeyRing,
  NATIVE_FALLBACK_CHANNEL,
  type NativeFallbackMessage,
  nativeFallbacks,
  WalError,
  WalErrorCode,
} from '@walnut/codec';
export type {
  FinishedCut,
  RecoveryMode,
  RecoveryReport,
  SalvageDrop,
  SegmentInfo,
  TornTail,
  TruncateAfterResult,
  VerifyMode,
} from '@walnut/segmented';
export {
  STORAGE_IO_FALLBACK_CHANNEL,
  type StorageChoice,
  type StorageIoFallbackMessage,
} from '@walnut/storage-io';
export { Batch } from './batch.js';
export { Cursor, type CursorCommitOptions, type CursorReadOptions } from './cursors/cursor.js';
export type { CursorInfo } from './cursors/cursor-registry.js';
export type { EngineSegment } from './engine.js';
export {
  type BackendInfo,
  WAL_CHANNELS,
  type WalOpenMessage,
  type WalPoisonMessage,
  type WalRecoveryMessage,
  type WalRetentionMessage,
  type WalRollbackMessage,
} from './internal/channels.js';
export { TAIL_POLL_MS, type TailOptions } from './internal/read/read-side.js';
export type { Backpressure, Durability, WalOptions } from './options.js';
export {
  type PortableContent,
  type PortableWalStats,
  PortableWalWriter,
  type PortableWalWriterConfig,
} from './portable-moved.js';
export type { WalIterator } from './read-records.js';
export type { RetentionReport, RetentionStats } from './retention/retention.js';
export type { RetentionOptions } from './retention/retention-options.js';
export type { SideFileRange } from './side-files.js';
export { type AppendBatchOptions, Wal } from './wal.js';
export { WalBuilder } from './wal-builder.js';
export type { WalState, WalStats } from './wal-stats.js';
