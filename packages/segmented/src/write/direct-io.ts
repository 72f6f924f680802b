import { statfs } from 'node:fs/promises';
import { isWalError, WalError, WalErrorCode } from '@walnut/codec';
import {
  alignedBuffer,
  alignedBufferUnavailable,
  DIRECT_IO_ALIGNMENT,
  Errno,
  type StorageIo,
} from '@walnut/storage-io';
import type { Segment } from '../files/segment.js';

/** Direct writes cover whole blocks of this size, from buffers aligned to it. */
export const BLOCK = DIRECT_IO_ALIGNMENT;
const { EINVAL } = Errno;
/** statfs(2)'s f_type of every FUSE file system. */
const FUSE_SUPER_MAGIC = 0x65735546;

export interface DirectIoStats {
  /** 'on': segments are written with O_DIRECT; 'off': not asked for; 'unavailable': asked for, not possible here. */
  state: 'off' | 'on' | 'unavailable';
  reason: string;
}

export function alignDown(n: number): number {
  return n - (n % BLOCK);
}

export function alignUp(n: number): number {
  return alignDown(n + BLOCK - 1);
}

/**
 * Whether the log in `dir` can be written with O_DIRECT: the addon gives aligned memory and
 * the file system accepts the flag (tmpfs, for one, refuses it with EINVAL) and makes a
 * direct write with RWF_DSYNC durable (FUSE does not). `probeFile` is any existing file in
 * the directory.
 */
export async function probeDirectIo(io: StorageIo, probeFile: string): Promise<DirectIoStats> {
  const noMemory = alignedBufferUnavailable();
  if (noMemory !== null) return { state: 'unavailable', reason: noMemory };
  if (await isFuse(probeFile))
    return {
      state: 'unavailable',
      reason: `${probeFile} is on a FUSE file system, which does not pass a direct write's RWF_DSYNC on to the file system (decision 0324); writing through the page cache`,
    };
  try {
    await io.close(await io.open(probeFile, { direct: true, readOnly: true }));
  } catch (err) {
    if (!isWalError(err) || err.details.errno !== EINVAL) throw err;
    return {
      state: 'unavailable',
      reason: `the file system under ${probeFile} refuses O_DIRECT; writing through the page cache`,
    };
  }
  return { state: 'on', reason: 'segments are written with O_DIRECT from aligned buffers' };
}

/**
 * Whether `path` is on FUSE. On Linux 6.18 an O_DIRECT write submitted through io_uring with
 * RWF_DSYNC completed without any fsync request reaching the FUSE file system, so it was not
 * durable there. A runtime without statfs is taken at its word (not FUSE).
 */
async function isFuse(path: string): Promise<boolean> {
  try {
    return (await statfs(path)).type === FUSE_SUPER_MAGIC;
  } catch {
    return false;
  }
}

/** A write buffer with room for a block's head before its frames and zeros after them. */
export function directBufferSize(capacity: number): number {
  return alignUp(capacity) + BLOCK;
}

export function newDirectBuffer(capacity: number): Buffer {
  return alignedBuffer(directBufferSize(capacity));
}

/** `bytes` followed by zeros up to a block boundary, in aligned memory. */
export function paddedToBlocks(bytes: Uint8Array): Buffer {
  const buffer = alignedBuffer(alignUp(bytes.length));
  buffer.set(bytes, 0);
  return buffer;
}

/**
 * Turns the frames in a write buffer into a block-aligned write, as O_DIRECT requires.
 *
 * Frames for file offset `o` are encoded into their buffer at index `o % BLOCK` (see
 * `frameView`), so the buffer's first byte sits at a block boundary of the file. The bytes
 * of the file between that boundary and `o` — the tail of the previous write, or a new
 * segment's header — are kept here and copied in front of the frames when the write is
 * made; the rest of the last block is zeros, which read as end of log. The next write
 * rewrites that partial block with its bytes unchanged, so a torn rewrite loses nothing.
 */
export class BlockTail {
  private readonly bytes = Buffer.alloc(BLOCK);
  private length = 0;
  /**
   * For the last block boundary a frame reached: the last LSN wholly below it and where the
   * frame across it starts (at the boundary when none crosses it). A full buffer is written
   * up to that boundary and the rest carried over (WritePipeline.submitBuffer).
   */
  blockLsn = 0n;
  blockFrameStart = 0;

  /** Tracks the last block boundary a frame of `size` bytes at file offset `start` reaches. */
  noteFrame(start: number, size: number, first: bigint, last: bigint): void {
    const end = start + size;
    const boundary = end - (end % BLOCK);
    if (boundary < start) return;
    if (boundary === end) {
      this.blockLsn = last;
      this.blockFrameStart = end;
    } else {
      this.blockLsn = first - 1n;
      this.blockFrameStart = start;
    }
  }

  /** The file holds `before` (fewer than BLOCK bytes) from the last block boundary up to the next frame. */
  reset(before: Uint8Array): void {
    this.bytes.set(before, 0);
    this.length = before.length;
  }

  /** The part of `buffer` that frames for file offset `offset` are encoded into. */
  frameView(buffer: Buffer, offset: number, capacity: number): Buffer {
    const lead = offset % BLOCK;
    return buffer.subarray(lead, lead + capacity);
  }

  /**
   * Completes the write of `length` frame bytes encoded for file offset `offset` into
   * `buffer` (the whole aligned buffer): the kept bytes in front and, with `pad`, zeros
   * behind up to a block boundary; without it the write stops at the last boundary. Keeps
   * the partial last block for the next write. Returns the block-aligned write.
   */
  complete(
    buffer: Buffer,
    offset: number,
    length: number,
    pad: boolean,
  ): { buf: Buffer; fileOffset: number; length: number } {
    const lead = offset % BLOCK;
    if (lead !== this.length) {
      throw new Error(`BlockTail: ${this.length} bytes kept for a write at block offset ${lead}`);
    }
    buffer.set(this.bytes.subarray(0, lead), 0);
    const end = lead + length;
    const alignedEnd = pad ? alignUp(end) : alignDown(end);
    if (pad) buffer.fill(0, end, alignedEnd);
    this.reset(buffer.subarray(alignDown(end), end));
    return { buf: buffer, fileOffset: offset - lead, length: alignedEnd };
  }
}

/**
 * The bytes of `seg`'s file from the block boundary below its assigned end up to it, read
 * back from the file (a planned segment's are its header's): what a direct write of the next
 * frame rewrites before it.
 */
export async function blockBeforeEnd(io: StorageIo, seg: Segment): Promise<Uint8Array> {
  const offset = seg.assignedEnd;
  if (offset % BLOCK === 0) return Buffer.alloc(0);
  if (seg.fd === null) return seg.headerBytes;
  const block = alignedBuffer(BLOCK);
  const got = await io.read(seg.fd, block, alignDown(offset));
  if (got < offset % BLOCK) {
    throw new WalError(
      WalErrorCode.IO,
      `segment ${seg.path} is shorter than its ${offset} bytes of data; close and reopen the log`,
    );
  }
  return block;
}
