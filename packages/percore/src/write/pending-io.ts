import type { PendingWrite } from '@walnut/storage-io';
import type { WriteBuffer } from './write-buffers.js';

// A writer's own operations in flight. Their tokens are the StorageIo's, so a completion is
// matched to exactly one of them and a write's is never taken for a sync's
// (docs/decisions/0501-percore-sync-coverage.md).

/**
 * A write of a core file: the write core's pending write (`buf` is the part of `buffer` it
 * covers; a short completion sends the rest again from `done`), with its place in order.
 * Its `fileOffset` is where its first part started, an entry boundary: a sync seen before a
 * rest sent after a short write completes stops there, never inside the entry the rest
 * finishes.
 */
export interface CoreWrite extends PendingWrite {
  /** The token of the part in flight: the first, then each rest sent again. */
  token: number;
  /** The token of the write's first part: a rest sent again after a short write keeps its place. */
  readonly order: number;
  readonly buffer: WriteBuffer;
  /** Claimed through `io.completion` by the direct path (otherwise checkCompletions sees it). */
  readonly direct: boolean;
}

export interface PendingSync {
  readonly token: number;
  /** `position` when the sync was submitted: the most it may make durable. */
  readonly position: number;
  readonly direct: boolean;
}

/**
 * How far a completed sync makes the file durable: the position recorded when it was
 * submitted, but only over writes that completed in full before its completion was seen. A
 * write submitted earlier and still in flight may have missed the fdatasync, so the durable
 * position stops at its start — for the rest of a short write, at the start of its first
 * part, so that it is always the end of an entry.
 */
export function syncCoverage(sync: PendingSync, inFlight: Iterable<CoreWrite>): number {
  let covered = sync.position;
  for (const write of inFlight)
    if (write.order < sync.token && write.fileOffset < covered) covered = write.fileOffset;
  return covered;
}
