export type { WalRecord, WalRecordInput } from '@walnut/codec';
export { isWalError, KeyRing, WalError, WalErrorCode } from '@walnut/codec';
export type { RecoveryReport, SalvageDrop, TornTail } from '@walnut/segmented';
export { Batch } from './batch.js';
export type { EngineSegment } from './engine.js';
export type { StorageChoice } from './internal/storage-choice.js';
export type { Backpressure, Durability, WalOptions } from './options.js';
export {
  type PortableContent,
  type PortableWalStats,
  PortableWalWriter,
  type PortableWalWriterConfig,
} from './portable/portable-wal-writer.js';
export {
  type AppendBatchOptions,
  TAIL_POLL_MS,
  type TailOptions,
  Wal,
  type WalState,
} from './wal.js';
export { type RecoveryMode, WalBuilder } from './wal-builder.js';
export type { WalStats } from './wal-stats.js';
