import { join } from 'node:path';
import { FILE_HEADER_SIZE } from '@walnut/codec';
import type { StorageIo } from '@walnut/storage-io';
import { MANIFEST_FILE } from '../files/manifest.js';
import type { CorePathPattern } from '../files/paths.js';

/**
 * Removes what a create cut short by a crash or power loss left in `dir` — core files that
 * hold a header at most, beside no MANIFEST, and a MANIFEST.tmp — and returns the per-core
 * files that remain. Nothing was ever appended to such files (create writes the manifest
 * last, and entries only follow it), so removing them loses nothing; left behind, create
 * refused the directory as holding logs and open refused it for lacking a manifest, and only
 * deleting files by hand got the user out (found with crashfs).
 */
export async function withoutCreateLeftovers(
  io: StorageIo,
  dir: string,
  pattern: CorePathPattern,
  names: readonly string[],
): Promise<string[]> {
  const existing = names.filter((n) => n === MANIFEST_FILE || pattern.coreIdOf(n) !== null);
  if (existing.includes(MANIFEST_FILE)) return existing;
  const remaining: string[] = [];
  for (const name of existing) {
    const size = (await io.stat(join(dir, name)))?.size ?? 0;
    if (size <= FILE_HEADER_SIZE) await io.unlink(join(dir, name));
    else remaining.push(name);
  }
  if (names.includes(`${MANIFEST_FILE}.tmp`)) await io.unlink(join(dir, `${MANIFEST_FILE}.tmp`));
  return remaining;
}
