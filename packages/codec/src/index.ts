export { addonNumber } from './addon-number.js';
export { BufferView, bufferView } from './buffer-view.js';
export { isBytes } from './bytes.js';
export * from './constants.js';
export {
  type CoreEntry,
  type CoreOp,
  coreEntryFrameSize,
  decodeCoreEntryBody,
  encodeCoreEntryFrame,
} from './core-entry.js';
export {
  type Crc32cImplementation,
  crc32c,
  crc32cImplementation,
  NATIVE_CRC32C_THRESHOLD,
} from './crc32c.js';
export { FrameCipher, KeyRing } from './crypto.js';
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
} from './cursor-file.js';
export { CUT_FILE, decodeCut, encodeCut, type SuffixCut } from './cut-file.js';
export { classifyDamage, type DamageKind, findNextValidFrame, isZeroFilled } from './damage.js';
export * from './errors.js';
export {
  type CipherId,
  checkLogId,
  decodeFileHeader,
  encodeFileHeader,
  type FileHeader,
  type FileHeaderInput,
  type FileKind,
  parseSegmentFileName,
  type SegmentName,
  segmentFileName,
  segmentFilesIn,
} from './file-header.js';
export { encodeFrame, sealFrame } from './frame.js';
export {
  type FrameRun,
  FrameRunStop,
  sealFrames,
  verifyFrameRun,
  walkFrames,
} from './frame-run.js';
export { describeFrameStop, FrameStop } from './frame-stop.js';
export { Errno, errnoName, ioErrorFromErrno, ioErrorFromNode } from './io-errors.js';
export { jsonReady, jsonSafe } from './json.js';
export { classifyLogDirectory, type LogDirectoryListing } from './log-directory.js';
export {
  decodeFloor,
  decodeHead,
  encodeFloor,
  encodeHead,
  FLOOR_FILE,
  HEAD_FILE,
} from './lsn-files.js';
export {
  decodeGaps,
  encodeGaps,
  GAPS_FILE,
  gapsCover,
  type LsnGap,
  mergeGaps,
} from './lsn-gaps.js';
export { LsnSequence } from './lsn-sequence.js';
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
} from './native-loader.js';
export {
  clockOption,
  flagOption,
  integerOption,
  keyRingOption,
  type OptionCheck,
  type OptionSpec,
  oneOfOption,
} from './option-checks.js';
export { bodyTime, plainRecordLsn, RecordCursor, type RecordFile } from './record-cursor.js';
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
} from './records.js';
export {
  decodeRetention,
  encodeRetention,
  RETENTION_FILE,
  type RetentionSettings,
} from './retention-file.js';
export {
  currentRuntime,
  isDenoPermissionError,
  type Runtime,
  type RuntimeName,
  readEnv,
  runtimeLabel,
} from './runtime.js';
export {
  FrameScanner,
  type FrameScannerOptions,
  type ScannedFrame,
  type ScanStop,
  type StopKind,
} from './scanner.js';
export { checkOptionKeys, unknownOption } from './unknown-option.js';
