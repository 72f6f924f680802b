import { join } from 'node:path';
import { crc32c, WalError, WalErrorCode } from '@walnut/codec';
import type { StorageIo } from '@walnut/storage-io';
import { readSmallFile, tmpName, writeFileAtomically } from './log-files.js';

export const FLOOR_FILE = 'FLOOR';
export const FLOOR_TMP_FILE = tmpName(FLOOR_FILE);
const FLOOR_SIZE = 12;

export function encodeFloor(lsn: bigint): Buffer {
  const buf = Buffer.alloc(FLOOR_SIZE);
  buf.writeBigUInt64LE(lsn, 0);
  buf.writeUInt32LE(crc32c(buf.subarray(0, 8)), 8);
  return buf;
}

export function decodeFloor(buf: Uint8Array, path: string): bigint {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (b.length !== FLOOR_SIZE || b.readUInt32LE(8) !== crc32c(b.subarray(0, 8))) {
    throw new WalError(
      WalErrorCode.CORRUPT,
      `${path} is damaged (${b.length} bytes, checksum mismatch or wrong size); the retained floor is unknown. Restore it from a backup or remove it if no segments were truncated`,
      { details: { segment: path, offset: 0 } },
    );
  }
  return b.readBigUInt64LE(0);
}

/** The retained floor recorded in `<dir>/FLOOR`, or null when there is none. */
export async function readFloor(io: StorageIo, dir: string): Promise<bigint | null> {
  const bytes = await readSmallFile(io, dir, FLOOR_FILE, 64);
  return bytes === null ? null : decodeFloor(bytes, join(dir, FLOOR_FILE));
}

/** Writes the floor atomically (a crash leaves the old floor or the new one). */
export async function writeFloor(io: StorageIo, dir: string, lsn: bigint): Promise<void> {
  await writeFileAtomically(io, dir, FLOOR_FILE, encodeFloor(lsn));
}
