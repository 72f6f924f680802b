import { open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * The checkpoint's file in the log directory (decision 0712). Written whole beside itself
 * and renamed over the old one, each step made durable, so a crash leaves the old file or
 * the new one, never a mix: the temporary file is fsynced before the rename, and the
 * directory after it.
 */
export const CHECKPOINT_FILE = 'streams.checkpoint';

export async function readCheckpointFile(dir: string): Promise<Buffer | undefined> {
  try {
    return await readFile(join(dir, CHECKPOINT_FILE));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

export async function writeCheckpointFile(dir: string, bytes: Buffer): Promise<void> {
  const path = join(dir, CHECKPOINT_FILE);
  const temporary = `${path}.tmp`;
  const file = await open(temporary, 'w');
  try {
    await file.writeFile(bytes);
    await file.sync();
  } finally {
    await file.close();
  }
  await rename(temporary, path);
  const directory = await open(dir, 'r');
  try {
    await directory.sync();
  } finally {
    await directory.close();
  }
}
