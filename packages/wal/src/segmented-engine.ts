import { type KeyRing, WalError, WalErrorCode } from '@walnut/codec';
import { MmapWalReader } from '@walnut/mmap-reader';
import { SegmentedWal } from '@walnut/segmented';
import type { StorageIo } from '@walnut/storage-io';
import type {
  EngineConfig,
  EngineFactory,
  EngineSegment,
  LogEngine,
  SegmentOpener,
  SegmentRecords,
} from './engine.js';

/**
 * The real engine: a SegmentedWal over the StorageIo the builder resolved, with segments
 * replayed through mmap-reader: sealed ones whole, the one being written up to its
 * `writtenBytes` (past them, writes may be in flight).
 */
export const segmentedEngineFactory: EngineFactory = {
  async open(config: EngineConfig): Promise<LogEngine> {
    return SegmentedWal.open(config);
  },
  openSegment(keyRing: KeyRing | undefined, io: StorageIo): SegmentOpener | undefined {
    // Segments of an in-memory backend are not files: they are read through the engine.
    if (io.filesOnDisk === false) return undefined;
    return (segment) => segmentRecords(segment, keyRing);
  },
};

/**
 * Opens the mapping now (so a vanished file fails here); records are decoded as they are
 * asked for. A sealed segment must end at the last LSN the log has in it: open did not read
 * it (decision 0311), so a cut, zeroed or foreign segment is found here, before any record
 * past its damage.
 */
function segmentRecords(segment: EngineSegment, keyRing: KeyRing | undefined): SegmentRecords {
  const sealed = segment.sealed === true && segment.lastLsn !== null;
  const reader = MmapWalReader.open(segment.path, {
    keyRing,
    end: segment.writtenBytes,
    ...(sealed ? { lastLsn: segment.lastLsn! } : {}),
  });
  return {
    next: () => reader.nextRecord(),
    drain: (fn, slices) => reader.drain(fn, slices),
    skipTo: (lsn, steps) => reader.skipTo(lsn, steps),
    finish() {
      const stop = reader.stopReason;
      if (stop === null) return;
      if (stop.kind !== 'eof') {
        throw new WalError(
          WalErrorCode.CORRUPT,
          `segment ${segment.path} is damaged at offset ${stop.offset} (${stop.reason}); reopen the log with recovery 'salvage' to skip the damage`,
          { details: { segment: segment.path, offset: stop.offset } },
        );
      }
      const last = segment.lastLsn;
      if (last !== null && (reader.lastLsn ?? 0n) < last) {
        throw new WalError(
          WalErrorCode.CORRUPT,
          `segment ${segment.path} ends at offset ${stop.offset} after LSN ${reader.lastLsn ?? 'none'}, but the log wrote records up to ${last} into it: something cut the file since. Reopen the log to run recovery`,
          { details: { segment: segment.path, offset: stop.offset, lastLsn: last } },
        );
      }
    },
    close: () => reader.close(),
  };
}
