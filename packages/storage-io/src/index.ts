export {
  BACKEND_CHOICES,
  type BackendChoice,
  type CreateStorageIoOptions,
  createStorageIo,
  openStorageIo,
  STORAGE_IO_FALLBACK_CHANNEL,
  type StorageIoFallbackMessage,
} from './backends/create.js';
export {
  checkIoUringConfig,
  type IoUringConfig,
  IoUringStorageIo,
  ioUringAvailability,
} from './backends/io-uring.js';
export { makeDirectory } from './backends/make-directory.js';
export { MemoryStorageIo, type PowerLossOptions } from './backends/memory.js';
export { type IoUringProof, proveIoUring } from './backends/prove-io-uring.js';
export {
  openFlags,
  type RealFileOperations,
  realFiles,
  withRealFiles,
} from './backends/real-files.js';
export {
  checkStorageChoice,
  type ResolvedStorage,
  resolveStorage,
  type StorageChoice,
} from './backends/storage-choice.js';
export { SyncFsStorageIo } from './backends/sync-fs.js';
export {
  alignedBuffer,
  alignedBufferUnavailable,
  DIRECT_IO_ALIGNMENT,
  DIRECT_IO_SECTOR,
} from './contract/aligned.js';
export { BaseStorageIo, type OpenRequest, type QueuedOp } from './contract/base-storage-io.js';
export {
  Errno,
  errnoName,
  ioErrorFromErrno,
  type LockedDetails,
  lockHolderOf,
} from './contract/errors.js';
export { readFileHeads } from './contract/file-heads.js';
export { ForwardingStorageIo } from './contract/forwarding-storage-io.js';
export { isStorageIo, missingStorageIoMethod } from './contract/is-storage-io.js';
export { readFully } from './contract/read-fully.js';
export { SequentialStorageIo } from './contract/sequential-storage-io.js';
export type * from './contract/types.js';
export {
  type FileCall,
  type FileCallTarget,
  WrappingStorageIo,
} from './contract/wrapping-storage-io.js';
export { lockFile, lockOwner } from './locking/lock-file.js';
export { nativeAddonStatus } from './native.js';
export type { OpCounts } from './simulation/fault-plan.js';
export {
  type CrashOptions,
  type Fault,
  type FaultableOp,
  type FaultyOptions,
  FaultyStorageIo,
} from './simulation/faulty.js';
export { PowerLossAtStep, type PowerLossAtStepOptions } from './simulation/power-loss-at-step.js';
export { type UnorderedOptions, UnorderedStorageIo } from './simulation/unordered.js';
export { BufferPool, MAX_POOLED_BYTES } from './write-core/buffer-pool.js';
export {
  isNoSpace,
  linkedSyncRan,
  stalledWriteError,
  wasCancelled,
  writeProgress,
} from './write-core/completion-rules.js';
export {
  judgeWrite,
  type PendingWrite,
  sendRest,
  writeError,
} from './write-core/pending-write.js';
export { finishWrite, type WriteFullyOptions, writeFully } from './write-core/write-fully.js';
