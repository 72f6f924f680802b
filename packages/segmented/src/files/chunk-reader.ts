import {
  DEFAULT_WALK_CHUNK,
  type FrameCipher,
  type FrameScanner,
  type RecordFile,
  type ScanStop,
  walkFrameChunks,
} from '@walnut/codec';
import { type IoFd, readFully, type StorageIo } from '@walnut/storage-io';

export const DEFAULT_READ_CHUNK = DEFAULT_WALK_CHUNK;

export interface ChunkScanOptions {
  io: StorageIo;
  fd: IoFd;
  path: string;
  /** File offset of the first frame. */
  start: number;
  /** File offset where reading stops (exclusive). */
  end: number;
  cipher: FrameCipher | undefined;
  /** The file's header: its version says how its records read, and its times count from it. */
  file: RecordFile;
  chunkSize?: number;
  /** A smaller first read, doubled on each later one up to `chunkSize` (see `walkFrameChunks`). */
  firstChunkSize?: number;
  /**
   * Reads every chunk into one buffer (grown when a frame needs more): for a caller that
   * keeps nothing of a chunk once it asked for the next, like recovery. Reading into fresh
   * memory costs a page fault per 4 KiB, a quarter of the time of an open over a warm cache.
   */
  reuseChunk?: boolean;
}

/**
 * The codec's frame walk (`walkFrameChunks`) over `[start, end)` of one open file, read
 * through StorageIo: see it for chunks, their lifetime and where it stops.
 */
export function scanChunks(opts: ChunkScanOptions): AsyncGenerator<FrameScanner, ScanStop, void> {
  const { io, fd } = opts;
  return walkFrameChunks({
    source: (buf, position) => readFully(io, fd, buf, position),
    path: opts.path,
    start: opts.start,
    end: opts.end,
    cipher: opts.cipher,
    file: opts.file,
    chunkSize: opts.chunkSize ?? DEFAULT_READ_CHUNK,
    ...(opts.firstChunkSize === undefined ? {} : { firstChunkSize: opts.firstChunkSize }),
    reuseChunk: opts.reuseChunk === true,
  });
}
