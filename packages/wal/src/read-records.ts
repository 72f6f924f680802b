import type { WalRecord } from '@walnut/codec';
import type { EngineSegment, LogEngine } from './engine.js';

/**
 * Reads a sealed segment's records in order (through a memory map). The iterable throws
 * if the segment is damaged: a sealed segment is never legitimately torn.
 */
export type SealedSegmentOpener = (
  segment: EngineSegment,
) => Iterable<WalRecord> | Promise<Iterable<WalRecord>>;

const CHUNK_RECORDS = 4096;

/**
 * Records with `from ≤ lsn ≤ upTo`, in order. Segments that were sealed when reading
 * started go through `openSealed` (never the active one, which is still being written);
 * the rest through the engine's bounded reads.
 */
export async function* readRecords(
  engine: LogEngine,
  from: bigint,
  upTo: bigint,
  openSealed: SealedSegmentOpener | undefined,
): AsyncIterableIterator<WalRecord> {
  let cursor = from < 1n ? 1n : from;
  if (cursor > upTo) return;
  const activeFirst = engine.activeSegmentFirstLsn;
  if (openSealed && cursor < activeFirst && cursor >= engine.floorLsn) {
    const segments = [...(await engine.listSegments())].sort((a, b) =>
      a.firstLsn < b.firstLsn ? -1 : a.firstLsn > b.firstLsn ? 1 : 0,
    );
    for (const segment of segments) {
      if (segment.firstLsn >= activeFirst) break;
      if (segment.lastLsn === null || segment.lastLsn < cursor) continue;
      let records: Iterable<WalRecord>;
      try {
        records = await openSealed(segment);
      } catch {
        // Deleted by a concurrent truncateBefore, for instance: the engine's reads below
        // report precisely what is missing (WAL_REPLAY_BELOW_FLOOR).
        break;
      }
      for (const record of records) {
        if (record.lsn < cursor) continue;
        if (record.lsn > upTo) return;
        yield record;
        cursor = record.lsn + 1n;
      }
    }
  }
  while (cursor <= upTo) {
    const { records, hasMore } = await engine.replayFromLimit(cursor, CHUNK_RECORDS);
    for (const record of records) {
      if (record.lsn < cursor) continue;
      if (record.lsn > upTo) return;
      yield record;
      cursor = record.lsn + 1n;
    }
    if (!hasMore || records.length === 0) return;
  }
}
