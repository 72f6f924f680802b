import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import {
  type Compression,
  decodeFileHeader,
  encodeFileHeader,
  FILE_HEADER_SIZE,
  type FileHeader,
  FrameCipher,
  type KeyRing,
  segmentFileName,
} from '@walnut/codec';
import type { IoFd } from '@walnut/storage-io';
import { FrameIndex } from './frame-index.js';
import type { LogClock } from './log-clock.js';

/**
 * One segment file as the writer tracks it.
 *
 * - `pending`: decided (first LSN, header, cipher) but not on disk yet; writes for it queue
 *   until its file is open.
 * - `unnamed`: written under `tmpPath` (header first) and open for appending, but not renamed
 *   into place yet: it becomes `ready` only after the previous segment is durable, so
 *   nothing in it may count as durable before then (docs/decisions/0306).
 * - `ready`: on disk under its own name and open for appending.
 * - `sealed`: a newer segment exists; everything in it is durable and it never changes.
 */
export interface Segment {
  readonly firstLsn: bigint;
  readonly path: string;
  /** Where the file is written until it is renamed to `path` (a spare file's name, if one was used). */
  tmpPath: string;
  readonly header: FileHeader;
  readonly headerBytes: Buffer;
  /** Encrypts frames appended to this segment; only for segments this process created. */
  readonly writeCipher: FrameCipher | undefined;
  status: 'pending' | 'unnamed' | 'ready' | 'sealed';
  fd: IoFd | null;
  /** The file exists already (an empty segment left by an earlier process) and is replaced atomically. */
  replaces: boolean;
  /** File offset after the last byte handed to a write or sitting in the write buffer. */
  assignedEnd: number;
  /** File offset after the contiguous prefix of completed writes. */
  completedEnd: number;
  /** Up to here the file holds data or durable zeros written ahead (see zero-fill.ts). */
  zeroedEnd: number;
  /** Up to here a writeback was started or an fdatasync covered the data (see writeback.ts). */
  writebackEnd: number;
  /**
   * Up to here every byte is durable: a sync of this process covered it. 0 until the first
   * one, so that only a write starting at or before it may make itself durable alone (a
   * dsync write, docs/decisions/0608-sync-round-as-one-dsync-write.md).
   */
  syncedEnd: number;
  /**
   * The durable end the last durable mark this process put in the segment states (0 before
   * one): the next goes in once syncs covered a page more (write/durable-marks.ts).
   */
  markedEnd: number;
  /** Last LSN assigned into this segment (firstLsn - 1 while it holds none). */
  lastLsn: bigint;
  /** Last LSN of this segment whose write completed. */
  writtenLsn: bigint;
  /** The creation job, while one runs. */
  creating: Promise<void> | null;
  /**
   * Where replays from an LSN start reading in this segment (decision 0344): kept for the
   * newest segment only, null for the others (the Wal reads sealed segments through a map).
   */
  frames: FrameIndex | null;
  /**
   * The fdatasyncs of this file that are not a sync round's (a zero fill's, the seal's) while
   * they run, each settled once its outcome was handled (a failure poisons the log first).
   * Linux hands a file's writeback error to one of the fdatasyncs running on it, so a round
   * that ran beside one of these is durable only once that one came back clean.
   */
  readonly syncsBeside: Set<Promise<unknown>>;
}

/** Keeps `sync` (a fill's or the seal's, outcome handled) in `seg.syncsBeside` while it runs. */
export function syncBeside<T>(seg: Segment, sync: Promise<T>): Promise<T> {
  seg.syncsBeside.add(sync);
  const settled = () => seg.syncsBeside.delete(sync);
  sync.then(settled, settled);
  return sync;
}

/**
 * A segment decided now and created on disk later (its header and key are fixed here). Its
 * `createdAtMs` is the log's time now, so no record it will hold is stamped before it.
 */
export function plannedSegment(
  dir: string,
  firstLsn: bigint,
  ring: KeyRing | undefined,
  clock: LogClock,
  compression: Compression | undefined,
): Segment {
  const headerBytes = encodeFileHeader({
    compressed: compression !== undefined,
    createdAtMs: clock.nowOrLast(),
    logId: clock.logId,
    firstLsn,
    salt: randomBytes(16),
    cipher: ring === undefined ? 'none' : 'aes-256-gcm',
    fileKind: 'segment',
    keyId: ring === undefined ? 0 : ring.currentKeyId,
  });
  const header = decodeFileHeader(headerBytes);
  const path = join(dir, segmentFileName(firstLsn));
  return {
    firstLsn,
    path,
    tmpPath: `${path}.tmp`,
    header,
    headerBytes,
    writeCipher: ring === undefined ? undefined : FrameCipher.forFile(ring, header, path),
    status: 'pending',
    fd: null,
    replaces: false,
    assignedEnd: FILE_HEADER_SIZE,
    completedEnd: FILE_HEADER_SIZE,
    zeroedEnd: FILE_HEADER_SIZE,
    writebackEnd: FILE_HEADER_SIZE,
    syncedEnd: 0,
    markedEnd: 0,
    lastLsn: firstLsn - 1n,
    writtenLsn: firstLsn - 1n,
    creating: null,
    frames: new FrameIndex(firstLsn),
    syncsBeside: new Set(),
  };
}

/** A segment recovery found on disk. */
export function existingSegment(
  path: string,
  header: FileHeader,
  lastLsn: bigint,
  dataEnd: number,
): Segment {
  return {
    firstLsn: header.firstLsn,
    path,
    tmpPath: `${path}.tmp`,
    header,
    headerBytes: Buffer.alloc(0),
    writeCipher: undefined,
    status: 'sealed',
    fd: null,
    replaces: false,
    assignedEnd: dataEnd,
    completedEnd: dataEnd,
    zeroedEnd: dataEnd,
    writebackEnd: dataEnd,
    syncedEnd: 0,
    markedEnd: 0,
    lastLsn,
    writtenLsn: lastLsn,
    creating: null,
    frames: null,
    syncsBeside: new Set(),
  };
}

export function hasRecords(seg: Segment): boolean {
  return seg.lastLsn >= seg.firstLsn;
}

/** Whether the segment's file exists under its own name (a replay or truncation may rely on it). */
export function isNamed(seg: Segment): boolean {
  return seg.status === 'ready' || seg.status === 'sealed';
}
