import type { Wal } from '@walnut/wal';
import { entryFinder, recordEntries } from './compaction.js';
import { StreamErrorCode, streamError } from './errors.js';
import { type CopiedEntry, decodeFrame } from './frame.js';
import { notAnAppend, StreamRecordReader } from './record-reader.js';
import type { StreamState } from './table.js';

export interface StreamRecord {
  readonly offset: number;
  /** A view of the log's bytes; yours to keep. */
  readonly payload: Buffer;
}

export interface ReadResult {
  readonly records: StreamRecord[];
  /** The offset to read from next. */
  readonly next: number;
  /** The stream's acknowledged tail when the read started. */
  readonly tail: number;
  /** The stream is closed and `next` is its tail: nothing more will come. */
  readonly end: boolean;
}

export interface ReadBounds {
  /** At most this many records (default 1000). */
  readonly maxRecords?: number | undefined;
  /** At most this many payload bytes, but always one record when there is one (default 1 MiB). */
  readonly maxBytes?: number | undefined;
}

/**
 * Reads acknowledged records from `from` on: the index names the log records holding them,
 * and only those records are read, in LSN order (record-reader.ts).
 */
export async function readStream(
  wal: Wal,
  stream: StreamState,
  from: number,
  bounds: ReadBounds,
): Promise<ReadResult> {
  const maxRecords = bounds.maxRecords ?? 1000;
  const maxBytes = bounds.maxBytes ?? 1024 * 1024;
  const upTo = stream.ackedTail;
  if (from > upTo) {
    throw streamError(
      StreamErrorCode.BAD_OFFSET,
      `offset ${from} is past the tail of stream "${stream.name}" (${upTo}); read from an offset at most the tail`,
      { offset: from, tail: upTo },
    );
  }
  const reader = new StreamRecordReader(wal);
  try {
    return await readEntries(reader, stream, from, upTo, { maxRecords, maxBytes });
  } finally {
    await reader.close();
  }
}

/** The records of `stream` from offset `from` up to `upTo`, within the bounds. */
async function readEntries(
  reader: StreamRecordReader,
  stream: StreamState,
  from: number,
  upTo: number,
  { maxRecords, maxBytes }: { maxRecords: number; maxBytes: number },
): Promise<ReadResult> {
  const records: StreamRecord[] = [];
  let next = from;
  let bytes = 0;
  // A compaction's copy holds many entries in a row, each decoded once per read.
  let held: { lsn: bigint; find: (start: number) => CopiedEntry | undefined } | undefined;
  for (
    let entry = stream.index.lastAtOrBefore(from);
    next < upTo && records.length < maxRecords;
    entry++
  ) {
    const lsn = BigInt(stream.index.lsn(entry));
    const start = stream.index.start(entry);
    if (held?.lsn !== lsn) {
      // A stream's first records may be in its create's record, and moved ones in a copy's.
      held = { lsn, find: entryFinder(recordEntries(decodeFrame(await reader.read(lsn), lsn))) };
    }
    const payloads = held.find(start)?.payloads;
    if (payloads === undefined) throw notAnAppend(lsn);
    for (let i = next - start; i < payloads.length && next < upTo; i++) {
      const payload = payloads[i]!;
      if (records.length >= maxRecords) break;
      if (records.length > 0 && bytes + payload.length > maxBytes) {
        return { records, next, tail: upTo, end: false };
      }
      records.push({ offset: next, payload });
      bytes += payload.length;
      next++;
    }
  }
  return { records, next, tail: upTo, end: stream.closed && next === stream.tail };
}
