import { join } from 'node:path';
import { CUT_FILE, CUT_FILE_MAX, decodeCut } from '@walnut/codec';
import { readSmallFile } from '@walnut/segmented';
import type { StorageIo } from '@walnut/storage-io';

/** The log's last suffix cut: its generation and the LSN it kept up to. */
export interface LastCut {
  readonly generation: bigint;
  readonly afterLsn: bigint;
}

/**
 * The last cut the log directory's CUT file records (null when the log was never cut). A
 * pending cut counts as made: its writer finishes it before anything else.
 */
export async function readLastCut(io: StorageIo, dir: string): Promise<LastCut | null> {
  const bytes = await readSmallFile(io, dir, CUT_FILE, CUT_FILE_MAX);
  if (bytes === null) return null;
  const cut = decodeCut(bytes, join(dir, CUT_FILE));
  return { generation: cut.generation, afterLsn: cut.afterLsn };
}
