import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  decodeRetention,
  ioErrorFromNode,
  isWalError,
  RETENTION_FILE,
  type RetentionSettings,
} from '@walnut/codec';

/** The retention settings of the log's last writer, from `<dir>/RETENTION` (decodeRetention). */
export type RetentionState =
  | { readonly kind: 'absent' }
  | { readonly kind: 'valid'; readonly settings: RetentionSettings }
  | { readonly kind: 'damaged'; readonly reason: string };

export async function readRetention(dir: string): Promise<RetentionState> {
  const path = join(dir, RETENTION_FILE);
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return { kind: 'absent' };
    throw ioErrorFromNode(error, 'read', path);
  }
  try {
    return { kind: 'valid', settings: decodeRetention(bytes, path) };
  } catch (error) {
    if (!isWalError(error)) throw error;
    return { kind: 'damaged', reason: error.message };
  }
}
