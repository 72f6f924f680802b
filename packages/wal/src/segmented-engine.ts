import { type KeyRing, WalError, WalErrorCode } from '@walnut/codec';
import { MmapWalReader } from '@walnut/mmap-reader';
import { SegmentedWal } from '@walnut/segmented';
import type { StorageIo } from '@walnut/storage-io';
import type {
  EngineConfig,
  EngineFactory,
  EngineSegment,
  LogEngine,
  SealedRecords,
  SealedSegmentOpener,
} from './engine.js';

/**
 * The real engine: a SegmentedWal over the StorageIo the builder resolved, with sealed
 * segments replayed through mmap-reader (the active segment is never mapped: it is
 * still being written).
 */
export const segmentedEngineFactory: EngineFactory = {
  async open(config: EngineConfig): Promise<LogEngine> {
    return SegmentedWal.open(config);
  },
  openSealed(keyRing: KeyRing | undefined, io: StorageIo): SealedSegmentOpener | undefined {
    // Segments of an in-memory backend are not files: they are read through the engine.
    if (io.filesOnDisk === false) return undefined;
    return (segment) => sealedRecords(segment, keyRing);
  },
};

/** Opens the mapping now (so a vanished file fails here); records are decoded as they are asked for. */
function sealedRecords(segment: EngineSegment, keyRing: KeyRing | undefined): SealedRecords {
  const reader = MmapWalReader.open(segment.path, keyRing ? { keyRing } : {});
  return {
    next: () => reader.nextRecord(),
    finish() {
      const stop = reader.stopReason;
      if (stop && stop.kind !== 'eof') {
        throw new WalError(
          WalErrorCode.CORRUPT,
          `sealed segment ${segment.path} is damaged at offset ${stop.offset} (${stop.reason}); reopen the log with recovery 'salvage' to skip the damage`,
          { details: { segment: segment.path, offset: stop.offset } },
        );
      }
    },
    close: () => reader.close(),
  };
}
