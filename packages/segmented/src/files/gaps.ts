import { join } from 'node:path';
import { decodeGaps, encodeGaps, GAPS_FILE, type LsnGap } from '@walnut/codec';
import type { StorageIo } from '@walnut/storage-io';
import { readSmallFile, tmpName, writeFileAtomically } from './log-files.js';

export const GAPS_TMP_FILE = tmpName(GAPS_FILE);

/** The LSN gaps an earlier salvage recorded in `<dir>/GAPS` (none when there is no file). */
export async function readGaps(io: StorageIo, dir: string): Promise<LsnGap[]> {
  const bytes = await readSmallFile(io, dir, GAPS_FILE, 64 * 1024 * 1024);
  return bytes === null ? [] : decodeGaps(bytes, join(dir, GAPS_FILE));
}

/** Records the log's gaps atomically; `gaps` must be merged (mergeGaps). */
export async function writeGaps(
  io: StorageIo,
  dir: string,
  gaps: readonly LsnGap[],
): Promise<void> {
  await writeFileAtomically(io, dir, GAPS_FILE, encodeGaps(gaps));
}
