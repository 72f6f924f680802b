export { type Clock, MonotonicStamp, wallClockNs } from './clock.js';
export {
  CoreWalWriter,
  type CoreWalWriterOptions,
  DEFAULT_WRITE_BUFFER_SIZE,
  type OpenAtOptions,
  type ResumePoint,
} from './core-wal-writer.js';
export { EpochRef } from './epoch-ref.js';
export {
  type CoreRecovery,
  PerCoreWalManager,
  type PerCoreWalManagerConfig,
  type ReclaimedCore,
  type RecoveryResult,
  type StrayCoreFile,
} from './manager.js';
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
