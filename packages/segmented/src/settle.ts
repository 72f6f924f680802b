import type { TruncationQueue } from './files/truncation-queue.js';
import type { Parts } from './wiring.js';

/**
 * Waits until nothing the parts started is in flight: the writes, a rollback they caused,
 * segment creations, truncations, zero fills, the sync round and writebacks. For `close()`
 * and for `truncateAfter` before it cuts the files; the caller refuses new work first.
 */
export async function settleParts(parts: Parts, truncations: TruncationQueue): Promise<void> {
  await Promise.all(parts.pipeline.writes.map((w) => w.settled));
  if (parts.failures.rollback !== null) await parts.failures.rollback;
  await parts.segments.creationsDone();
  await truncations.idle();
  await parts.zeroFill?.idle();
  while (parts.rounds.active) await new Promise((r) => setImmediate(r));
  await parts.writeback?.idle();
}
