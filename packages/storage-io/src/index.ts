export {
  alignedBuffer,
  alignedBufferUnavailable,
  DIRECT_IO_ALIGNMENT,
  DIRECT_IO_SECTOR,
} from './aligned.js';
export { BaseStorageIo, type QueuedOp, SequentialStorageIo } from './base.js';
export {
  BACKEND_CHOICES,
  type BackendChoice,
  type CreateStorageIoOptions,
  createStorageIo,
} from './create.js';
export { errnoName, ioErrorFromErrno } from './errors.js';
export type { OpCounts } from './faults.js';
export { type Fault, type FaultableOp, type FaultyOptions, FaultyStorageIo } from './faulty.js';
export {
  checkIoUringConfig,
  type IoUringConfig,
  IoUringStorageIo,
  ioUringAvailability,
} from './io-uring.js';
export { lockFile, lockOwner } from './locking/lock-file.js';
export { MemoryStorageIo, type PowerLossOptions } from './memory.js';
export { nativeAddonStatus } from './native.js';
export { readFully } from './read-fully.js';
export { openFlags } from './realfs.js';
export { SyncFsStorageIo } from './sync-fs.js';
export type * from './types.js';
