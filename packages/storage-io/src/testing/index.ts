// @walnut/storage-io/testing: helpers for tests of code over a StorageIo (ours and plugin
// authors'). Nothing here imports a test runner, so it loads in any program.
export { expectWalError } from '@walnut/codec/testing';
export { type IoUringForTests, ioUringForTests, REQUIRE_IO_URING } from './io-uring-for-tests.js';
export { payloadFor, payloadNumber } from './payloads.js';
export {
  type FileCall,
  type Hold,
  OverlappingWritesError,
  type RecordedOp,
  type RecordingOptions,
  RecordingStorageIo,
} from './recording-storage-io.js';
export { removeTempDirs, tempDir } from './temp-dirs.js';
