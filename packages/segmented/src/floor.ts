import { join } from 'node:path';
import { decodeFloor, encodeFloor, FLOOR_FILE } from '@walnut/codec';
import type { StorageIo } from '@walnut/storage-io';
import { readSmallFile, tmpName, writeFileAtomically } from './log-files.js';

export const FLOOR_TMP_FILE = tmpName(FLOOR_FILE);

/** The retained floor recorded in `<dir>/FLOOR`, or null when there is none. */
export async function readFloor(io: StorageIo, dir: string): Promise<bigint | null> {
  const bytes = await readSmallFile(io, dir, FLOOR_FILE, 64);
  return bytes === null ? null : decodeFloor(bytes, join(dir, FLOOR_FILE));
}

/** Writes the floor atomically (a crash leaves the old floor or the new one). */
export async function writeFloor(io: StorageIo, dir: string, lsn: bigint): Promise<void> {
  await writeFileAtomically(io, dir, FLOOR_FILE, encodeFloor(lsn));
}
