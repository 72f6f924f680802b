export {
  type Crc32cImplementation,
  crc32c,
  crc32cImplementation,
  NATIVE_CRC32C_THRESHOLD,
} from './crc/crc32c.js';
export * from './errors/errors.js';
export {
  Errno,
  errnoName,
  ioErrorFromErrno,
  ioErrorFromNode,
  isNotFound,
} from './errors/io-errors.js';
export {
  CURSOR_DIR,
  CURSOR_FILE_SIZE,
  CURSOR_FILE_SUFFIX,
  CURSOR_LOCK_SUFFIX,
  CURSOR_SLOT_SIZE,
  CURSOR_SLOT_STRIDE,
  type CursorPosition,
  type CursorSlot,
  checkCursorName,
  cursorCorrupt,
  cursorFileName,
  cursorNameOf,
  cursorSlotOffset,
  type DecodedCursor,
  decodeCursor,
  encodeCursorFile,
  encodeCursorSlot,
} from './files/cursor-file.js';
export {
  CUT_FILE,
  CUT_FILE_MAX,
  CUT_POLL_MS,
  CUT_WAIT_MS,
  decodeCut,
  encodeCut,
  lowestCutSince,
  RECENT_CUTS,
  type SuffixCut,
  sameCut,
} from './files/cut-file.js';
export {
  type CipherId,
  checkLogId,
  decodeFileHeader,
  encodeFileHeader,
  type FileHeader,
  type FileHeaderInput,
  type FileKind,
  isTornHeader,
  parseSegmentFileName,
  type SegmentName,
  segmentFileName,
  segmentFilesIn,
} from './files/file-header.js';
export { classifyLogDirectory, type LogDirectoryListing } from './files/log-directory.js';
export {
  decodeFloor,
  decodeHead,
  encodeFloor,
  encodeHead,
  FLOOR_FILE,
  HEAD_FILE,
} from './files/lsn-files.js';
export {
  decodeGaps,
  encodeGaps,
  GAPS_FILE,
  gapsCover,
  type LsnGap,
  mergeGaps,
} from './files/lsn-gaps.js';
export {
  decodeRetention,
  encodeRetention,
  RETENTION_FILE,
  type RetentionSettings,
} from './files/retention-file.js';
export {
  COMPRESSION_LEVELS,
  type Compression,
  type CompressionChoice,
  type CompressionName,
  compressBody,
  compressionOption,
  compressionSetting,
  MIN_COMPRESSED_BODY,
  zstdImplementation,
} from './format/compression.js';
export * from './format/constants.js';
export {
  type CoreEntry,
  type CoreOp,
  coreEntryFrameSize,
  coreEntryHead,
  decodeCoreEntryBody,
  encodeCoreEntryFrame,
} from './format/core-entry.js';
export { FrameCipher, KeyRing } from './format/crypto.js';
export {
  classifyDamage,
  type DamageKind,
  DISK_SECTOR,
  findNextValidFrame,
  isZeroFilled,
  lostWritesHoleEnd,
} from './format/damage.js';
export {
  DURABLE_MARK_SIZE,
  durableMarkEnd,
  encodeDurableMark,
} from './format/durable-mark.js';
export { encodeFrame, sealFrame } from './format/frame.js';
export {
  type FrameBodyOptions,
  type FrameContent,
  frameLsnAt,
  frameLsns,
  frameRecordCount,
  frameRecords,
  isEncryptedBody,
  isPaddingBody,
} from './format/frame-body.js';
export {
  type FrameRun,
  FrameRunStop,
  sealFrames,
  verifyFrameRun,
  walkFrames,
} from './format/frame-run.js';
export { describeFrameStop, FrameStop } from './format/frame-stop.js';
export { LsnSequence } from './format/lsn-sequence.js';
export { bodyTime, plainRecordLsn, RecordCursor, type RecordFile } from './format/record-cursor.js';
export {
  batchFrameSize,
  decodeBatchAt,
  decodeBatchBody,
  decodeRecordAt,
  decodeRecordBody,
  encodeBatchFrame,
  encodeBatchFrameUnsealed,
  encodePayloadFramesUnsealed,
  encodePayloadFrameUnsealed,
  encodeRecordFrame,
  encodeRecordFramesUnsealed,
  encodeRecordFrameUnsealed,
  payloadFrameSize,
  recordFrameSize,
  recordFramesSize,
  recordInputBytes,
  validateRecordInput,
  type WalRecord,
  type WalRecordInput,
} from './format/records.js';
export {
  FrameScanner,
  type FrameScannerOptions,
  type ScannedFrame,
  type ScanStop,
  type StopKind,
} from './format/scanner.js';
export { addonNumber } from './native/addon-number.js';
export {
  type AddonLoad,
  type AddonName,
  type AddonSpec,
  addonSwitch,
  addonSwitchedOff,
  loadAddon,
  NATIVE_FALLBACK_CHANNEL,
  type NativeFallbackMessage,
  nativeFallbacks,
} from './native/native-loader.js';
export {
  currentRuntime,
  isDenoPermissionError,
  type Runtime,
  type RuntimeName,
  readEnv,
  runtimeLabel,
} from './native/runtime.js';
export {
  clockOption,
  flagOption,
  integerOption,
  keyRingOption,
  type OptionCheck,
  type OptionSpec,
  oneOfOption,
  pathOption,
} from './options/option-checks.js';
export { checkOptionKeys, unknownOption } from './options/unknown-option.js';
export {
  DEFAULT_WALK_CHUNK,
  type FrameWalkOptions,
  type ReadAt,
  walkFrameChunks,
} from './reading/frame-walk.js';
export { isThenable, READ_SLICE_MS, ReadSlices } from './reading/read-slices.js';
export { BufferView, bufferView } from './values/buffer-view.js';
export { copyInto, isBytes, putU32 } from './values/bytes.js';
export { ClockReadings } from './values/clock-readings.js';
export { jsonReady, jsonSafe } from './values/json.js';
