export { type Clock, MonotonicStamp, wallClockNs } from './clock.js';
export { CoreWalWriter } from './core-wal-writer.js';
export {
  type CoreWalWriterOptions,
  DEFAULT_WRITE_BUFFER_SIZE,
  type OpenAtOptions,
} from './core-wal-writer-options.js';
export { EpochRef } from './epoch-ref.js';
export { PerCoreWalManager, type ReclaimedCore } from './manager.js';
export type { PerCoreWalManagerConfig } from './manager-config.js';
export {
  type CheckpointManifest,
  type CoreCheckpoint,
  decodeManifest,
  encodeManifest,
  MANIFEST_FILE,
} from './manifest.js';
export { mergeCoreEntries } from './merge.js';
export { DEFAULT_SEGMENT_PATTERN } from './paths.js';
export {
  type CoreHandoff,
  isManagerRequest,
  isWorkerReply,
  type ManagerRequest,
  type MessageEndpoint,
  openHandedOffWriter,
  releaseCoreWriter,
  serveCoreWriter,
  type WorkerReply,
} from './protocol.js';
export {
  type CoreReadOptions,
  type CoreReadResult,
  PerCoreWalReader,
  type PerCoreWalReaderOptions,
} from './reader.js';
export type { CoreRecovery, RecoveryResult, StrayCoreFile } from './recovery.js';
export type { ResumePoint } from './resume-point.js';
