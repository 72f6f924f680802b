import { WalError, WalErrorCode } from '../errors/errors.js';
import type { FrameCipher } from '../format/crypto.js';
import type { RecordFile } from '../format/record-cursor.js';
import { FrameScanner, type ScanStop } from '../format/scanner.js';

export const DEFAULT_WALK_CHUNK = 1024 * 1024;

/**
 * Reads `buf.length` bytes of the file at `position` into `buf` and resolves with the bytes
 * read: fewer only where the file ends. codec does no I/O; each layer passes its own.
 */
export type ReadAt = (buf: Buffer, position: number) => Promise<number>;

export interface FrameWalkOptions {
  /** The file's bytes: a read function (the file is read in chunks), or a mapping of it. */
  source: ReadAt | Uint8Array;
  /** Names the file in errors. */
  path: string;
  /** File offset of the first frame. */
  start: number;
  /** File offset where the walk stops (exclusive). */
  end: number;
  cipher?: FrameCipher | undefined;
  /** The file's header: its version says how its records read, and its times count from it. */
  file?: RecordFile | undefined;
  /** Bytes read at a time (default 1 MiB); a chunk grows to hold a larger frame. */
  chunkSize?: number;
  /**
   * Bytes of the first read, when fewer than `chunkSize`: each later read is twice the one
   * before, up to `chunkSize`. For a reader that may want only the frames near `start`.
   */
  firstChunkSize?: number;
  /**
   * Reads every chunk into one buffer (grown when a frame needs more): for a caller that
   * keeps nothing of a chunk once it asked for the next, like recovery. Reading into fresh
   * memory costs a page fault per 4 KiB, a quarter of the time of an open over a warm cache.
   */
  reuseChunk?: boolean;
}

/**
 * The one walk over the frames of `[start, end)` of a file: yields a scanner positioned on
 * each chunk, which the caller drains before asking for the next. Chunks read from a file
 * are fresh memory unless `reuseChunk` is set, so records handed out (views into a chunk)
 * stay valid for as long as anyone holds them; a mapping is walked in one chunk, its
 * records views of the mapping. A frame cut by a chunk's end is read again at the start of
 * the next chunk, which grows to hold a frame larger than `chunkSize`.
 *
 * Returns where and why it stopped: 'eof' at `end`, or the first damage (judged only within
 * the chunk that holds it — callers that must tell torn from corrupt look at the rest of
 * the file). WAL_CORRUPT when the file is shorter than `end`.
 */
export async function* walkFrameChunks(
  opts: FrameWalkOptions,
): AsyncGenerator<FrameScanner, ScanStop, void> {
  const { source } = opts;
  const mapped = typeof source !== 'function';
  const chunkSize = mapped ? opts.end - opts.start : (opts.chunkSize ?? DEFAULT_WALK_CHUNK);
  let pos = opts.start;
  let size = mapped ? chunkSize : Math.min(chunkSize, opts.firstChunkSize ?? chunkSize);
  let want = size;
  let kept: Buffer | null = null;
  while (pos < opts.end) {
    const length = Math.min(Math.max(want, size), opts.end - pos);
    let chunk: Buffer;
    let got: number;
    if (mapped) {
      got = Math.max(0, Math.min(length, source.length - pos));
      chunk = Buffer.from(source.buffer, source.byteOffset + pos, got);
    } else {
      if (!opts.reuseChunk) chunk = Buffer.allocUnsafeSlow(length);
      else {
        if (kept === null || kept.length < length) kept = Buffer.allocUnsafeSlow(length);
        chunk = kept.subarray(0, length);
      }
      got = await source(chunk, pos);
    }
    if (got < length) {
      throw new WalError(
        WalErrorCode.CORRUPT,
        `${opts.path} is shorter than expected (${pos + got} bytes, expected at least ${opts.end}); was it truncated by another program?`,
        { details: { segment: opts.path, offset: pos + got } },
      );
    }
    const scanner = new FrameScanner(chunk, {
      baseOffset: pos,
      chunked: pos + length < opts.end,
      ...(opts.file === undefined ? {} : { file: opts.file }),
      ...(opts.cipher === undefined ? {} : { cipher: opts.cipher }),
    });
    yield scanner;
    const stop = scanner.stop;
    if (stop === null) {
      throw new Error('walkFrameChunks: the consumer must drain the scanner before the next chunk');
    }
    size = Math.min(chunkSize, size * 2);
    if (stop.kind === 'partial') {
      want = stop.needed ?? size;
      pos = stop.offset;
      continue;
    }
    if (stop.kind === 'eof' && stop.offset === pos + length) {
      pos += length;
      want = size;
      continue;
    }
    return stop;
  }
  return { kind: 'eof', offset: pos, reason: 'end of data' };
}
