import { isExpired, type StreamTable } from './table.js';

/**
 * The LSN below which the log holds nothing a live stream needs (decision 0713): every
 * record of a live stream comes at or after its create, and open replays from the record
 * after the checkpoint (or, without a usable checkpoint, from the first record kept, where
 * records of streams whose create is gone are dead and skipped). So the boundary is the
 * lower of the oldest live create and the record after the checkpoint.
 */
export function reclaimBoundary(table: StreamTable, checkpointLsn: bigint, now: number): bigint {
  let boundary = checkpointLsn + 1n;
  for (const stream of table.all()) {
    if (isExpired(stream, now)) continue;
    // A create not acknowledged yet comes after the checkpoint, so above the boundary.
    if (stream.createLsn !== 0n && stream.createLsn < boundary) boundary = stream.createLsn;
  }
  return boundary;
}
