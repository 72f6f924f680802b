import { join } from 'node:path';
import { decodeRetention, RETENTION_FILE, type RetentionSettings } from '@walnut/codec';
import { readDecodedFile } from './directory.js';

/** The retention settings of the log's last writer, from `<dir>/RETENTION` (decodeRetention). */
export type RetentionState =
  | { readonly kind: 'absent' }
  | { readonly kind: 'valid'; readonly settings: RetentionSettings }
  | { readonly kind: 'damaged'; readonly reason: string };

export async function readRetention(dir: string): Promise<RetentionState> {
  const path = join(dir, RETENTION_FILE);
  const state = await readDecodedFile(dir, RETENTION_FILE, (bytes) => decodeRetention(bytes, path));
  return state.kind === 'valid' ? { kind: 'valid', settings: state.value } : state;
}
