export {
  describeMmapSupport,
  type MmapSupport,
  type ReaderMode,
  type RequestedMode,
} from './mode.js';
export {
  type MadviseState,
  MmapWalReader,
  type MmapWalReaderOptions,
  type ReaderDescription,
  type StopReason,
} from './reader.js';
