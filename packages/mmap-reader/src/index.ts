export { listSegmentFiles, readFloor, type SegmentFile } from './log-dir.js';
export {
  describeMmapSupport,
  type MmapSupport,
  type ReaderMode,
  type RequestedMode,
} from './mode.js';
export type { MmapWalReaderOptions } from './opening.js';
export {
  type MadviseState,
  MmapWalReader,
  type ReaderDescription,
  type StopReason,
} from './reader.js';
export {
  type ReplayOptions,
  type ReplayPage,
  type ReplaySummary,
  replaySegmentsMmap,
  replaySegmentsMmapLimit,
} from './replay.js';
