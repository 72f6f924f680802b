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
 * Records with `from ≤ lsn ≤ upTo`, in order, in chunks (so a reader pays the async
 * machinery once per chunk, not once per record). Segments that were sealed when reading
 * started go through `openSealed` (never the active one, which is still being written);
 * the rest through the engine's bounded reads.
 */
export async function* readRecordChunks(
  engine: LogEngine,
  from: bigint,
  upTo: bigint,
  openSealed: SealedSegmentOpener | undefined,
): AsyncIterableIterator<WalRecord[]> {
  let cursor = from < 1n ? 1n : from;
  if (cursor > upTo) return;
  const activeFirst = engine.activeSegmentFirstLsn;
  if (openSealed && cursor < activeFirst && cursor >= engine.floorLsn) {
    const segments = [...(await engine.listSegments())].sort((a, b) =>
      a.firstLsn < b.firstLsn ? -1 : a.firstLsn > b.firstLsn ? 1 : 0,
    );
    for (const segment of segments) {
      // Not sealed yet (its fdatasync may still be running, writes past `upTo` may be in
      // flight): a map of it could show a frame half written. The engine's reads know.
      if (segment.firstLsn >= activeFirst || segment.sealed === false) break;
      if (segment.lastLsn === null || segment.lastLsn < cursor) continue;
      let records: Iterable<WalRecord>;
      try {
        records = await openSealed(segment);
      } catch {
        // Deleted by a concurrent truncateBefore, for instance: the engine's reads below
        // report precisely what is missing (WAL_REPLAY_BELOW_FLOOR).
        break;
      }
      let chunk: WalRecord[] = [];
      for (const record of records) {
        if (record.lsn < cursor) continue;
        if (record.lsn > upTo) break;
        chunk.push(record);
        cursor = record.lsn + 1n;
        if (chunk.length === CHUNK_RECORDS) {
          yield chunk;
          chunk = [];
        }
      }
      if (chunk.length > 0) yield chunk;
      if (cursor > upTo) return;
    }
  }
  while (cursor <= upTo) {
    const { records, hasMore } = await engine.replayFromLimit(cursor, CHUNK_RECORDS);
    let start = 0;
    while (start < records.length && records[start]!.lsn < cursor) start++;
    let end = start;
    while (end < records.length && records[end]!.lsn <= upTo) end++;
    if (end > start) {
      yield start === 0 && end === records.length ? records : records.slice(start, end);
      cursor = records[end - 1]!.lsn + 1n;
    }
    if (!hasMore || records.length === 0 || end < records.length) return;
  }
}

/** The records of `readRecordChunks`, one by one. */
export async function* readRecords(
  engine: LogEngine,
  from: bigint,
  upTo: bigint,
  openSealed: SealedSegmentOpener | undefined,
): AsyncIterableIterator<WalRecord> {
  for await (const chunk of readRecordChunks(engine, from, upTo, openSealed)) yield* chunk;
}
