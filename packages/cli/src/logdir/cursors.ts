import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  CURSOR_DIR,
  cursorCorrupt,
  cursorNameOf,
  decodeCursor,
  ioErrorFromNode,
  isNotFound,
  isWalError,
} from '@walnut/codec';
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
    if (isNotFound(error)) return [];
    throw ioErrorFromNode(error, 'readdir', cursorDir);
  }
  const cursors: CursorFile[] = [];
  for (const file of files.sort()) {
    const name = cursorNameOf(file);
    if (name === null) continue;
    const path = join(cursorDir, file);
    const state = await readState(path);
    if (state !== null) cursors.push({ name, state });
  }
  return cursors;
}

/**
 * What cursor file `path` holds, null when it was deleted meanwhile. A read racing two
 * in-place writes of the cursor's holder can find neither slot whole: it reads again.
 */
async function readState(path: string): Promise<CursorFile['state'] | null> {
  for (let attempt = 1; ; attempt++) {
    let bytes: Buffer;
    try {
      bytes = await readFile(path);
    } catch (error) {
      if (isNotFound(error)) return null;
      throw ioErrorFromNode(error, 'read', path);
    }
    try {
      const position = decodeCursor(bytes, path);
      if (position !== null) return { kind: 'valid', lsn: position.lsn };
      if (attempt === 3) throw cursorCorrupt(path, bytes.length);
    } catch (error) {
      if (!isWalError(error)) throw error;
      return { kind: 'damaged', reason: error.message };
    }
  }
}
