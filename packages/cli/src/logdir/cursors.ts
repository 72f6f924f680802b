import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CURSOR_DIR, cursorNameOf, decodeCursor, ioErrorFromNode, isWalError } from '@walnut/codec';
import type { LsnFileState } from './directory.js';

/** One durable cursor file: its name and what it holds. */
export interface CursorFile {
  readonly name: string;
  readonly state: Exclude<LsnFileState, { kind: 'absent' }>;
}

/** The durable cursors in `<dir>/cursors/` by name (none when there is no such directory). */
export async function readCursors(dir: string): Promise<CursorFile[]> {
  const cursorDir = join(dir, CURSOR_DIR);
  let files: string[];
  try {
    files = await readdir(cursorDir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw ioErrorFromNode(error, 'readdir', cursorDir);
  }
  const cursors: CursorFile[] = [];
  for (const file of files.sort()) {
    const name = cursorNameOf(file);
    if (name === null) continue;
    const path = join(cursorDir, file);
    let bytes: Buffer;
    try {
      bytes = await readFile(path);
    } catch (error) {
      // Deleted between the listing and the read.
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw ioErrorFromNode(error, 'read', path);
    }
    try {
      cursors.push({ name, state: { kind: 'valid', lsn: decodeCursor(bytes, path).lsn } });
    } catch (error) {
      if (!isWalError(error)) throw error;
      cursors.push({ name, state: { kind: 'damaged', reason: error.message } });
    }
  }
  return cursors;
}
