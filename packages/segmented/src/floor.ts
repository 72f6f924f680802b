import { join } from 'node:path';
import { crc32c, WalError, WalErrorCode } from '@walnut/codec';
import type { StorageIo } from '@walnut/storage-io';

export const FLOOR_FILE = 'FLOOR';
export const FLOOR_TMP_FILE = 'FLOOR.tmp';
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
  const path = join(dir, FLOOR_FILE);
  const st = await io.stat(path);
  if (st === null) return null;
  const fd = await io.open(path, { readOnly: true });
  try {
    const buf = Buffer.alloc(Math.min(st.size, 64));
    let got = 0;
    while (got < buf.length) {
      const n = await io.read(fd, buf.subarray(got), got);
      if (n === 0) break;
      got += n;
    }
    return decodeFloor(buf.subarray(0, got), path);
  } finally {
    await io.close(fd);
  }
}

/** Writes the floor atomically: FLOOR.tmp, fsync, rename over FLOOR, directory fsync. */
export async function writeFloor(io: StorageIo, dir: string, lsn: bigint): Promise<void> {
  const tmp = join(dir, FLOOR_TMP_FILE);
  const fd = await io.open(tmp, { create: true, truncate: true, mode: 0o600 });
  try {
    await io.write(fd, encodeFloor(lsn), 0);
    await io.fsync(fd);
  } finally {
    await io.close(fd);
  }
  await io.rename(tmp, join(dir, FLOOR_FILE));
  await io.syncDirectory(dir);
}
