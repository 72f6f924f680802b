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

/** The records of each chunk read, in LSN order, from `from` up to the readable LSN. */
async function* replayChunks(
  source: ReplaySource,
  from: bigint,
): AsyncGenerator<WalRecord[], void, void> {
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
        const batch: WalRecord[] = [];
        let pastLimit = false;
        for (let rec = scanner.nextRecord(); rec !== null; rec = scanner.nextRecord()) {
          if (rec.lsn > limit) {
            pastLimit = true;
            break;
          }
          if (rec.lsn >= from) batch.push(rec);
        }
        if (batch.length > 0) yield batch;
        if (pastLimit) {
          await walk.return({ kind: 'eof', offset: 0, reason: '' });
          return;
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

/**
 * Streams records with LSN ≥ `from`, one read chunk at a time. Every chunk is a fresh
 * buffer and records are views into it: a record stays valid for as long as it is held,
 * and memory is released as soon as the consumer drops the records of a chunk. Records of
 * a chunk are handed out without a round trip through an async generator each.
 */
export class ReplayIterator implements AsyncIterableIterator<WalRecord> {
  readonly #chunks: AsyncGenerator<WalRecord[], void, void>;
  #pending: WalRecord[] = [];
  #at = 0;

  constructor(source: ReplaySource, from: bigint) {
    this.#chunks = replayChunks(source, from);
  }

  next(): Promise<IteratorResult<WalRecord>> {
    if (this.#at < this.#pending.length) {
      return Promise.resolve({ done: false, value: this.#pending[this.#at++]! });
    }
    return this.#refill();
  }

  async #refill(): Promise<IteratorResult<WalRecord>> {
    for (;;) {
      const step = await this.#chunks.next();
      if (step.done === true) {
        this.#pending = [];
        this.#at = 0;
        return { done: true, value: undefined };
      }
      this.#pending = step.value;
      this.#at = 0;
      if (this.#pending.length > 0) return { done: false, value: this.#pending[this.#at++]! };
    }
  }

  async return(): Promise<IteratorResult<WalRecord>> {
    this.#pending = [];
    await this.#chunks.return();
    return { done: true, value: undefined };
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}
