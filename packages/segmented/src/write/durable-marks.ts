import { DURABLE_MARK_SIZE, encodeDurableMark, FILE_HEADER_SIZE } from '@walnut/codec';
import { type StorageIo, writeFully } from '@walnut/storage-io';
import type { Segment } from '../files/segment.js';

// Durable marks say how far a writer's completed fdatasyncs covered a segment, so that
// recovery takes zeros below that offset for damage, never for a hole of lost writes, and
// never cuts the synced records after them (docs/decisions/0329-durable-marks.md, 0342).
// A mark is never synced by itself: one a power loss keeps from the disk only leaves the
// hole rule as it was. Direct I/O writes whole blocks only, so such a log goes without.

/**
 * Synced bytes between two marks a writer puts among its frames: a mark costs 20 bytes,
 * so at most 0.5 % of what is written, and a writer killed before it closed leaves at most
 * this much (plus what it synced since its last write) judged by the hole rule alone.
 */
export const MARK_EVERY = 4096;

/**
 * Puts a durable mark at `at` in `buf` (the write buffer, whose next frame goes to the end
 * of `seg`) when syncs covered `MARK_EVERY` bytes more since the last one and it fits before
 * `room`; returns its size, or 0 when none was due. The write it rides in goes out anyway:
 * a mark costs no system call.
 */
export function markIfDue(seg: Segment, buf: Buffer, at: number, room: number): number {
  const durable = seg.syncedEnd;
  if (durable < seg.markedEnd + MARK_EVERY || at + DURABLE_MARK_SIZE > room) return 0;
  encodeDurableMark(buf, at, durable);
  seg.assignedEnd += DURABLE_MARK_SIZE;
  seg.markedEnd = durable;
  return DURABLE_MARK_SIZE;
}

/**
 * A writer that closes with every write completed puts a durable mark after the active
 * segment's last frame, unless the last mark among its frames says as much already.
 */
export async function writeCloseMark(io: StorageIo, seg: Segment, direct: boolean): Promise<void> {
  if (direct || seg.status !== 'ready' || seg.fd === null) return;
  // Only what this process synced is news: a segment's syncedEnd starts at 0 on open.
  if (seg.syncedEnd <= Math.max(FILE_HEADER_SIZE, seg.markedEnd)) return;
  if (seg.completedEnd !== seg.assignedEnd) return;
  const mark = Buffer.alloc(DURABLE_MARK_SIZE);
  encodeDurableMark(mark, 0, seg.syncedEnd);
  try {
    await writeFully(io, seg.fd, mark, seg.completedEnd);
  } catch {
    // A mark is knowledge, not data: without it recovery judges the tail as before.
  }
}
