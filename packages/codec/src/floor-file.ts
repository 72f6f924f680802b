import { crc32c } from './crc32c.js';
import { WalError, WalErrorCode } from './errors.js';

/** Name of the file in a log directory holding its retained floor (FORMAT.md "Log directory"). */
export const FLOOR_FILE = 'FLOOR';

const FLOOR_SIZE = 12;

/** The FLOOR file's bytes: the floor LSN (u64) then the CRC32C of those 8 bytes. */
export function encodeFloor(lsn: bigint): Buffer {
  const buf = Buffer.alloc(FLOOR_SIZE);
  buf.writeBigUInt64LE(lsn, 0);
  buf.writeUInt32LE(crc32c(buf.subarray(0, 8)), 8);
  return buf;
}

/** The floor LSN a FLOOR file holds; WAL_CORRUPT naming `path` when its bytes do not check out. */
export function decodeFloor(bytes: Uint8Array, path: string): bigint {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b.length !== FLOOR_SIZE || b.readUInt32LE(8) !== crc32c(b.subarray(0, 8))) {
    throw new WalError(
      WalErrorCode.CORRUPT,
      `${path} is damaged (${b.length} bytes, checksum mismatch or wrong size); it holds the retained floor LSN. Restore it from a backup, or remove it if no segments were ever truncated (the floor is then the first segment's first LSN)`,
      { details: { segment: path, offset: 0 } },
    );
  }
  return b.readBigUInt64LE(0);
}
