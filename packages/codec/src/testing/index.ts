// @walnut/codec/testing: how a test asserts a WalError. It lives beside WalError, at the bottom
// of the layers, so the codec's own tests use it too; @walnut/storage-io/testing re-exports it.
// Nothing here imports a test runner.

export { compressedLog, compressedLogEvent, compressedLogRecords } from './compressed-log.js';
export { expectWalError } from './wal-error.js';
