import { join } from 'node:path';
import { CURSOR_DIR, cursorFileName, encodeCursor } from '@walnut/codec';
import type { StorageIo } from '@walnut/storage-io';

/** One cursor's new committed LSN, and the cut generation it belongs to. */
export interface CursorWrite {
  readonly name: string;
  readonly lsn: bigint;
  readonly generation: bigint;
}

/**
 * The one place cursor files are written (the file-system crash rig targets it): for each
 * cursor, `NAME.cursor.tmp` written and fsynced, then renamed over `NAME.cursor` — the
 * FLOOR/GAPS path of segmented's writeFileAtomically — and then one fsync of `cursors/`
 * for all of them, so that the consumers committing together share the directory's fsync.
 * A crash leaves each cursor at its old LSN or its new one.
 */
export async function writeCursorFiles(
  io: StorageIo,
  logDir: string,
  writes: readonly CursorWrite[],
): Promise<void> {
  const dir = join(logDir, CURSOR_DIR);
  await Promise.all(writes.map((write) => writeOne(io, dir, write)));
  await io.syncDirectory(dir);
}

async function writeOne(io: StorageIo, dir: string, write: CursorWrite): Promise<void> {
  const path = join(dir, cursorFileName(write.name));
  const tmp = `${path}.tmp`;
  const fd = await io.open(tmp, { create: true, truncate: true, mode: 0o600 });
  try {
    await io.write(fd, encodeCursor(write), 0);
    await io.fsync(fd);
  } finally {
    await io.close(fd);
  }
  await io.rename(tmp, path);
}
