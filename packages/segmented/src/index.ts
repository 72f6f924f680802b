export type { WalRecord, WalRecordInput } from '@walnut/codec';
export { KeyRing } from '@walnut/codec';
export {
  CONFIG_LIMITS,
  CONFIG_OPTIONS,
  DEFAULT_SEGMENT_TARGET_SIZE,
  DEFAULT_WRITE_BUFFER_SIZE,
  type RecoveryMode,
  type SegmentedWalConfig,
  type VerifyMode,
} from './config.js';
export { SuffixCuts, truncatedError } from './cut/suffix-cuts.js';
export {
  readSmallFile,
  removeIfPresent,
  tmpName,
  writeFileAtomically,
} from './files/log-files.js';
export type {
  FinishedCut,
  RecoveryReport,
  SalvageDrop,
  TornTail,
} from './recovery/recovery-report.js';
export { judgeSegmentRest, type RestVerdict } from './recovery/segment-scan.js';
export {
  SegmentedWal,
  type SegmentedWalStats,
  type SegmentInfo,
  type TruncateAfterResult,
  type TruncateResult,
} from './segmented-wal.js';
