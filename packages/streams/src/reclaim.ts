import { isExpired, type StreamTable } from './table.js';

/**
 * The LSN below which the log holds nothing a live stream needs (decision 0713): a live
 * stream needs its base (its create, or the newest image a compaction wrote of it) and the
 * records its index names, and open replays from the record after the checkpoint (or,
 * without a usable checkpoint, from the first record kept, where records of streams whose
 * base is gone are dead and dropped). So the boundary is the lower of the lowest LSN a
 * live stream needs and the record after the checkpoint. Before any compaction a stream's
 * create comes first; a compaction moves both forward (decision 0717).
 */
export function reclaimBoundary(table: StreamTable, checkpointLsn: bigint, now: number): bigint {
  let boundary = checkpointLsn + 1n;
  for (const stream of table.all()) {
    if (isExpired(stream, now)) continue;
    // A record not acknowledged yet comes after the checkpoint, so above the boundary.
    if (stream.createLsn !== 0n && stream.createLsn < boundary) boundary = stream.createLsn;
    const lowest = stream.index.lowestLsn();
    if (lowest < boundary) boundary = BigInt(lowest);
  }
  return boundary;
}
