import { crc32c } from '../crc/crc32c.js';
import { damagedFileError } from './damaged-file.js';

/** Name of the file in a log directory recording its last suffix cut (FORMAT.md "Log directory"). */
export const CUT_FILE = 'CUT';

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
}

const CUT_FILE_SIZE = 40;
const PENDING = 1;
const DONE = 2;

/** The CUT file's 40 bytes (FORMAT.md). */
export function encodeCut(cut: SuffixCut): Buffer {
  const buf = Buffer.alloc(CUT_FILE_SIZE);
  buf.writeBigUInt64LE(cut.afterLsn, 0);
  buf.writeBigUInt64LE(cut.segmentFirstLsn, 8);
  buf.writeBigUInt64LE(BigInt(cut.keepBytes), 16);
  buf.writeBigUInt64LE(cut.generation, 24);
  buf.writeUInt8(cut.state === 'pending' ? PENDING : DONE, 32);
  buf.writeUInt32LE(crc32c(buf.subarray(0, 36)), 36);
  return buf;
}

/** The cut a CUT file records; WAL_CORRUPT naming `path` when its bytes do not check out. */
export function decodeCut(bytes: Uint8Array, path: string): SuffixCut {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const state = b.length === CUT_FILE_SIZE ? b.readUInt8(32) : 0;
  if (
    b.length !== CUT_FILE_SIZE ||
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
  };
}
