import { crc32c } from '../crc/crc32c.js';
import { damagedFileError } from './damaged-file.js';

/** Name of the file in a log directory recording its last suffix cut (FORMAT.md "Log directory"). */
export const CUT_FILE = 'CUT';

/**
 * How long a reader waits for a writer's truncateAfter under way to finish (the files are
 * half cut until then) before it gives up, and how often it reads CUT meanwhile: one rule
 * for every reader (segmented's read-only opener, mmap-reader's replay, the CLI).
 */
export const CUT_WAIT_MS = 10_000;
export const CUT_POLL_MS = 5;

/** A suffix cut (`truncateAfter`) as the CUT file records it. */
export interface SuffixCut {
  /** The log keeps the records up to this LSN and none after it. */
  afterLsn: bigint;
  /** The first LSN of the segment that is the newest once the cut is done. */
  segmentFirstLsn: bigint;
  /** That segment's length in bytes once the cut is done (its header and whole frames). */
  keepBytes: number;
  /** How many cuts this log has had, this one included: a reader that saw another number knows. */
  generation: bigint;
  /** `pending` until every step is done: an opener finishes a pending cut before anything else. */
  state: 'pending' | 'done';
  /**
   * The `afterLsn` of the log's last cuts, oldest first, this one last: generations
   * `generation - recent.length + 1` to `generation` (up to RECENT_CUTS of them). A reader
   * that missed several cuts learns the lowest from it. Empty in a file written before it
   * was kept (nothing known of earlier cuts); `encodeCut` then records this cut alone.
   */
  recent?: readonly bigint[];
}

/** How many cuts a CUT file remembers: a reader that missed more knows only that it did. */
export const RECENT_CUTS = 64;

/**
 * The lowest `afterLsn` of the cuts made after generation `since`, as far as `cut` tells;
 * null when it does not remember them all (more cuts than RECENT_CUTS, or a file written
 * before it kept them) or none was made.
 */
export function lowestCutSince(cut: SuffixCut, since: bigint): bigint | null {
  const missed = cut.generation - since;
  const recent = cut.recent ?? [];
  if (missed <= 0n || missed > BigInt(recent.length)) return null;
  let lowest = recent[recent.length - 1]!;
  for (let i = recent.length - Number(missed); i < recent.length; i++) {
    if (recent[i]! < lowest) lowest = recent[i]!;
  }
  return lowest;
}

/**
 * Two reads of the CUT file are of the same cut in the same state: no cut ran between them.
 * Every reader beside a writer takes its looks between two such reads (a seqlock, decision
 * 0341).
 */
export function sameCut(a: SuffixCut | null, b: SuffixCut | null): boolean {
  return (a?.generation ?? 0n) === (b?.generation ?? 0n) && a?.state === b?.state;
}

const CUT_FILE_SIZE = 40;
/** The largest CUT file: its 40 bytes, a count, RECENT_CUTS LSNs and a CRC. */
export const CUT_FILE_MAX = CUT_FILE_SIZE + 8 + 8 * RECENT_CUTS;
const PENDING = 1;
const DONE = 2;

/** The CUT file's bytes (FORMAT.md): its 40 bytes, then the recent cuts. */
export function encodeCut(cut: SuffixCut): Buffer {
  const recent = cut.recent?.length ? cut.recent.slice(-RECENT_CUTS) : [cut.afterLsn];
  const buf = Buffer.alloc(CUT_FILE_SIZE + 8 + 8 * recent.length);
  buf.writeBigUInt64LE(cut.afterLsn, 0);
  buf.writeBigUInt64LE(cut.segmentFirstLsn, 8);
  buf.writeBigUInt64LE(BigInt(cut.keepBytes), 16);
  buf.writeBigUInt64LE(cut.generation, 24);
  buf.writeUInt8(cut.state === 'pending' ? PENDING : DONE, 32);
  buf.writeUInt32LE(crc32c(buf.subarray(0, 36)), 36);
  buf.writeUInt32LE(recent.length, CUT_FILE_SIZE);
  for (const [i, lsn] of recent.entries()) buf.writeBigUInt64LE(lsn, CUT_FILE_SIZE + 4 + 8 * i);
  const end = buf.length - 4;
  buf.writeUInt32LE(crc32c(buf.subarray(CUT_FILE_SIZE, end)), end);
  return buf;
}

/** The recent cuts after a CUT file's 40 bytes; null when they do not check out. */
function decodeRecent(b: Buffer): bigint[] | null {
  if (b.length === CUT_FILE_SIZE) return [];
  if (b.length < CUT_FILE_SIZE + 8) return null;
  const count = b.readUInt32LE(CUT_FILE_SIZE);
  const end = b.length - 4;
  if (
    count < 1 ||
    count > RECENT_CUTS ||
    b.length !== CUT_FILE_SIZE + 8 + 8 * count ||
    b.readUInt32LE(end) !== crc32c(b.subarray(CUT_FILE_SIZE, end))
  )
    return null;
  return Array.from({ length: count }, (_, i) => b.readBigUInt64LE(CUT_FILE_SIZE + 4 + 8 * i));
}

/** The cut a CUT file records; WAL_CORRUPT naming `path` when its bytes do not check out. */
export function decodeCut(bytes: Uint8Array, path: string): SuffixCut {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const state = b.length >= CUT_FILE_SIZE ? b.readUInt8(32) : 0;
  const recent = b.length >= CUT_FILE_SIZE ? decodeRecent(b) : null;
  if (
    recent === null ||
    b.readUInt32LE(36) !== crc32c(b.subarray(0, 36)) ||
    (state !== PENDING && state !== DONE) ||
    b.readUIntLE(33, 3) !== 0
  ) {
    throw damagedFileError(
      path,
      `${b.length} bytes, checksum mismatch, wrong size or unknown state`,
      "it records the log's last truncateAfter. Restore it from a backup; if no truncateAfter was running when the log last closed, removing it is safe",
    );
  }
  return {
    afterLsn: b.readBigUInt64LE(0),
    segmentFirstLsn: b.readBigUInt64LE(8),
    keepBytes: Number(b.readBigUInt64LE(16)),
    generation: b.readBigUInt64LE(24),
    state: state === PENDING ? 'pending' : 'done',
    recent,
  };
}
