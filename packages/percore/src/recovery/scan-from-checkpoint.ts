import { type CoreEntry, type ScanStop, WalError, WalErrorCode } from '@walnut/codec';
import type { StorageIo } from '@walnut/storage-io';
import type { CoreCheckpoint } from '../files/manifest.js';
import type { ResumePoint } from '../files/resume-point.js';
import { midFileCorruptionError, scanCoreRange } from '../files/scan.js';

/**
 * Scans a core file from its place in checkpoint `checkpointId` (collecting its entries when
 * `into` is given); returns the end of the last valid entry, why the scan stopped and the file's size. A file
 * shorter than that place lost synced data, and damage followed by valid entries is mid-file
 * corruption (unless it is a hole a power loss left: see `ScanExpectations.unsyncedTail`):
 * both `WAL_CORRUPT`, never a tail to cut.
 */
export async function scanFromCheckpoint(
  io: StorageIo,
  path: string,
  point: CoreCheckpoint,
  checkpointId: bigint,
  into?: CoreEntry[],
): Promise<{ end: ResumePoint; stop: ScanStop; size: number }> {
  const { coreId } = point;
  const fd = await io.open(path, { readOnly: true });
  try {
    const size = await io.size(fd);
    if (size < point.position)
      throw new WalError(
        WalErrorCode.CORRUPT,
        `${path} (core ${coreId}) is ${size} bytes but checkpoint ${checkpointId} recorded position ${point.position}; synced data was lost`,
        { details: { segment: path, offset: size, coreId } },
      );
    const scan = await scanCoreRange(
      io,
      fd,
      path,
      point.position,
      size,
      { coreId, previousSequence: point.sequence, unsyncedTail: true },
      into === undefined ? undefined : (entry) => into.push(entry),
    );
    if (scan.stop.kind === 'corrupt')
      throw midFileCorruptionError(`${path} (core ${coreId})`, scan.stop, {
        segment: path,
        offset: scan.stop.offset,
        coreId,
      });
    const last = scan.lastEntry;
    const end: ResumePoint = last
      ? {
          position: scan.end,
          sequence: last.sequence,
          epoch: last.epoch,
          timestampNs: last.timestampNs,
        }
      : {
          position: point.position,
          sequence: point.sequence,
          epoch: point.epoch,
          timestampNs: point.timestampNs,
        };
    return { end, stop: scan.stop, size };
  } finally {
    await io.close(fd);
  }
}
