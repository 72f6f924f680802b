import {
  FILE_HEADER_SIZE,
  isWalError,
  type KeyRing,
  WalError,
  WalErrorCode,
  type WalRecord,
} from '@walnut/codec';
import type { StorageIo } from '@walnut/storage-io';
import { scanChunks } from './chunk-reader.js';
import { readCipher } from './recovery.js';
import type { Segment } from './segment.js';

/** What a replay reads: segments on disk and how far each is known to hold whole frames. */
export interface ReplaySource {
  io: StorageIo;
  ring: KeyRing | undefined;
  maxFrameBody: number;
  chunkSize: number;
  /** The segments on disk, oldest first, at the moment the replay starts. */
  segments(): readonly Segment[];
  /** Highest LSN a replay may return (records after it may be in flight). */
  readableLsn(): bigint;
}

/**
 * Streams records with LSN ≥ `from`, one read chunk at a time. Every chunk is a fresh
 * buffer and records are views into it: a record stays valid for as long as it is held,
 * and memory is released as soon as the consumer drops the records of a chunk.
 */
export async function* replayRecords(
  source: ReplaySource,
  from: bigint,
): AsyncGenerator<WalRecord, void, void> {
  const limit = source.readableLsn();
  const all = source.segments();
  let startAt = 0;
  for (let i = 0; i < all.length; i++) if (all[i]!.firstLsn <= from) startAt = i;
  for (let i = startAt; i < all.length; i++) {
    const seg = all[i]!;
    if (seg.firstLsn > limit) return;
    if (seg.status === 'pending') return;
    // Only completed writes: the file may hold in-flight bytes past this point.
    const end = seg.completedEnd;
    if (end <= FILE_HEADER_SIZE) continue;
    const cipher = readCipher(source.ring, seg.header, seg.path);
    let fd: number;
    try {
      fd = await source.io.open(seg.path, { readOnly: true });
    } catch (err) {
      if (isWalError(err) && err.details.errno === 2) {
        throw new WalError(
          WalErrorCode.REPLAY_BELOW_FLOOR,
          `${seg.path} was removed (truncateBefore ran while this replay was reading); replay again from the new floor`,
          { cause: err, details: { segment: seg.path } },
        );
      }
      throw err;
    }
    try {
      const walk = scanChunks({
        io: source.io,
        fd,
        path: seg.path,
        start: FILE_HEADER_SIZE,
        end,
        maxFrameBody: source.maxFrameBody,
        cipher,
        chunkSize: source.chunkSize,
      });
      let step = await walk.next();
      while (step.done !== true) {
        const scanner = step.value;
        for (let rec = scanner.nextRecord(); rec !== null; rec = scanner.nextRecord()) {
          if (rec.lsn > limit) {
            await walk.return({ kind: 'eof', offset: 0, reason: '' });
            return;
          }
          if (rec.lsn >= from) yield rec;
        }
        step = await walk.next();
      }
      const stop = step.value;
      if (stop.kind !== 'eof' || stop.offset < end) {
        throw new WalError(
          WalErrorCode.CORRUPT,
          `${seg.path} is damaged at offset ${stop.offset} (${stop.reason}); it was valid when the log was opened, so something changed the file since. Reopen the log to run recovery`,
          { details: { segment: seg.path, offset: stop.offset, reason: stop.reason } },
        );
      }
    } finally {
      await source.io.close(fd);
    }
  }
}
