import { join } from 'node:path';
import { encodeRetention, RETENTION_FILE } from '@walnut/codec';
import { readSmallFile, writeFileAtomically } from '@walnut/segmented';
import type { StorageIo } from '@walnut/storage-io';
import { DEFAULT_RETENTION_INTERVAL_MS } from './retention.js';
import type { RetentionOptions } from './retention-options.js';

/**
 * Records the writer's retention settings in `<dir>/RETENTION` (so that `walnut inspect`
 * can show them), or removes the file when this writer has none: it never shows settings
 * no writer applies. Written only when they changed, like FLOOR (atomically).
 */
export async function recordRetentionSettings(
  io: StorageIo,
  dir: string,
  options: RetentionOptions | undefined,
): Promise<void> {
  const current = await readSmallFile(io, dir, RETENTION_FILE, 64);
  if (options === undefined) {
    if (current === null) return;
    await io.unlink(join(dir, RETENTION_FILE));
    await io.syncDirectory(dir);
    return;
  }
  const bytes = encodeRetention({
    maxBytes: options.maxBytes ?? null,
    maxSegments: options.maxSegments ?? null,
    maxAgeMs: options.maxAgeMs ?? null,
    maxCursorLagBytes: options.maxCursorLagBytes ?? null,
    intervalMs: options.intervalMs ?? DEFAULT_RETENTION_INTERVAL_MS,
    beforeDelete: options.beforeDelete !== undefined,
  });
  if (current?.equals(bytes)) return;
  await writeFileAtomically(io, dir, RETENTION_FILE, bytes);
}
