import { type Wal, WalError, WalErrorCode } from '@walnut/wal';
import { StreamErrorCode, streamError } from './errors.js';
import { decodeFrame, Op } from './frame.js';
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
 * and only those records are read, one point read each.
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
  const records: StreamRecord[] = [];
  let next = from;
  let bytes = 0;
  let entry = lastAtOrBefore(stream.starts, from);
  while (next < upTo && records.length < maxRecords) {
    const lsn = stream.lsns[entry]!;
    const frame = decodeFrame(await readRecord(wal, lsn), lsn);
    if (frame.op !== Op.APPEND) throw notAnAppend(lsn);
    const start = stream.starts[entry]!;
    for (let i = next - start; i < frame.payloads.length && next < upTo; i++) {
      const payload = frame.payloads[i]!;
      if (records.length >= maxRecords) break;
      if (records.length > 0 && bytes + payload.length > maxBytes) {
        return { records, next, tail: upTo, end: false };
      }
      records.push({ offset: next, payload });
      bytes += payload.length;
      next++;
    }
    entry++;
  }
  return { records, next, tail: upTo, end: stream.closed && next === stream.tail };
}

/** The index of the last start ≤ offset (binary search; starts[0] is 0). */
function lastAtOrBefore(starts: readonly number[], offset: number): number {
  let low = 0;
  let high = starts.length - 1;
  while (low < high) {
    const mid = (low + high + 1) >>> 1;
    if (starts[mid]! <= offset) low = mid;
    else high = mid - 1;
  }
  return low;
}

/**
 * The payload of record `lsn`. The Wal has no read of one LSN (decision 0710): an iterator
 * from it, stopped after one. Its readers see what was written to the OS only, and under
 * durability 'none' or 'interval' an append is acknowledged before that: such a record
 * is read after a `flush()`.
 */
async function readRecord(wal: Wal, lsn: bigint): Promise<Buffer> {
  for (let attempt = 0; attempt < 2; attempt++) {
    if (attempt > 0) await wal.flush();
    const records = wal.iterator(lsn);
    try {
      const { value, done } = await records.next();
      if (!done && value.lsn === lsn) return value.payload;
    } finally {
      await records.return?.();
    }
  }
  throw notAnAppend(lsn);
}

function notAnAppend(lsn: bigint) {
  return new WalError(
    WalErrorCode.CORRUPT,
    `the stream index names record ${lsn}, which the log does not hold as an append; reopen the streams to rebuild the index`,
    { details: { lsn } },
  );
}
