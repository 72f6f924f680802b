import { DURABLE_MARK_SIZE, encodeDurableMark, FILE_HEADER_SIZE } from '@walnut/codec';
import { type StorageIo, writeFully } from '@walnut/storage-io';
import type { Segment } from '../files/segment.js';

/**
 * A writer that closes with every write completed puts a durable mark after the active
 * segment's last frame: how far its fdatasyncs covered the segment. Recovery then takes
 * zeros below that offset for damage, never for a hole of lost writes, so the open never
 * cuts synced records after them (docs/decisions/0329-durable-marks.md). The mark is not
 * synced itself: one a power loss keeps from the disk only leaves the hole rule as it was.
 * Direct I/O writes whole blocks only, so such a log goes without.
 */
export async function writeCloseMark(io: StorageIo, seg: Segment, direct: boolean): Promise<void> {
  if (direct || seg.status !== 'ready' || seg.fd === null) return;
  // Only what this process synced is news: a segment's syncedEnd starts at 0 on open.
  if (seg.syncedEnd <= FILE_HEADER_SIZE || seg.completedEnd !== seg.assignedEnd) return;
  const mark = Buffer.alloc(DURABLE_MARK_SIZE);
  encodeDurableMark(mark, 0, seg.syncedEnd);
  try {
    await writeFully(io, seg.fd, mark, seg.completedEnd);
  } catch {
    // A mark is knowledge, not data: without it recovery judges the tail as before.
  }
}
