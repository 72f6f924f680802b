export {
  type CheckpointManifest,
  type CoreCheckpoint,
  decodeManifest,
  encodeManifest,
  MANIFEST_FILE,
} from './files/manifest.js';
export { DEFAULT_SEGMENT_PATTERN } from './files/paths.js';
export type { ResumePoint } from './files/resume-point.js';
export { EpochRef } from './manager/epoch-ref.js';
export { PerCoreWalManager, type ReclaimedCore } from './manager/manager.js';
export type { PerCoreWalManagerConfig } from './manager/manager-config.js';
export type { TailCut } from './manager/open-cores.js';
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
} from './manager/protocol.js';
export { mergeCoreEntries } from './read/merge.js';
export {
  type CoreReadOptions,
  type CoreReadResult,
  PerCoreWalReader,
  type PerCoreWalReaderOptions,
} from './read/reader.js';
export type { CoreRecovery, RecoveryResult, StrayCoreFile } from './recovery/recovery.js';
export { type Clock, MonotonicStamp, wallClockNs } from './write/clock.js';
export { CoreWalWriter } from './write/core-wal-writer.js';
export {
  type CoreWalWriterOptions,
  DEFAULT_CORE_BUFFER_SIZE,
  DEFAULT_WRITE_BUFFER_SIZE,
  type OpenAtOptions,
} from './write/core-wal-writer-options.js';
