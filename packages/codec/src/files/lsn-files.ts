import { crc32c } from '../crc/crc32c.js';
import { damagedFileError } from './damaged-file.js';

/** Name of the file in a log directory holding its retained floor (FORMAT.md "Log directory"). */
export const FLOOR_FILE = 'FLOOR';

/** Name of the file in a log directory naming its newest segment (FORMAT.md "Log directory"). */
export const HEAD_FILE = 'HEAD';

/** FLOOR and HEAD alike: one LSN (u64) then the CRC32C of those 8 bytes (u32). */
const LSN_FILE_SIZE = 12;

function encodeLsnFile(lsn: bigint): Buffer {
  const buf = Buffer.alloc(LSN_FILE_SIZE);
  buf.writeBigUInt64LE(lsn, 0);
  buf.writeUInt32LE(crc32c(buf.subarray(0, 8)), 8);
  return buf;
}

function decodeLsnFile(bytes: Uint8Array, path: string, holds: string, advice: string): bigint {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b.length !== LSN_FILE_SIZE || b.readUInt32LE(8) !== crc32c(b.subarray(0, 8))) {
    throw damagedFileError(
      path,
      `${b.length} bytes, checksum mismatch or wrong size`,
      `it holds ${holds}. ${advice}`,
    );
  }
  return b.readBigUInt64LE(0);
}

/** The FLOOR file's bytes: the floor LSN. */
export function encodeFloor(lsn: bigint): Buffer {
  return encodeLsnFile(lsn);
}

/** The floor LSN a FLOOR file holds; WAL_CORRUPT naming `path` when its bytes do not check out. */
export function decodeFloor(bytes: Uint8Array, path: string): bigint {
  return decodeLsnFile(
    bytes,
    path,
    'the retained floor LSN',
    "Restore it from a backup, or remove it if no segments were ever truncated (the floor is then the first segment's first LSN)",
  );
}

/** The HEAD file's bytes: the first LSN of the newest segment a writer created. */
export function encodeHead(firstLsn: bigint): Buffer {
  return encodeLsnFile(firstLsn);
}

/** The first LSN a HEAD file names; WAL_CORRUPT naming `path` when its bytes do not check out. */
export function decodeHead(bytes: Uint8Array, path: string): bigint {
  return decodeLsnFile(
    bytes,
    path,
    'the first LSN of the newest segment',
    'Check that every segment is there, then remove it: the next writer writes it again (until then a missing newest segment goes unnoticed)',
  );
}
