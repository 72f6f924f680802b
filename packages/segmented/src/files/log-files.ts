import { join } from 'node:path';
import { readFully, type StorageIo } from '@walnut/storage-io';

/**
 * The bytes of `<dir>/<name>`, or null when there is no such file. For the directory's
 * small bookkeeping files (FLOOR, GAPS, HEAD), never for segments.
 */
export async function readSmallFile(
  io: StorageIo,
  dir: string,
  name: string,
  limit: number,
): Promise<Buffer | null> {
  const path = join(dir, name);
  const st = await io.stat(path);
  if (st === null) return null;
  const fd = await io.open(path, { readOnly: true });
  try {
    // Room to spare: a file replaced by rename between the stat and the open (a writer's
    // next CUT beside a reader) may be longer than the one the stat saw.
    // Not zero-filled (a streams checkpoint can be tens of MiB): only what the read did not
    // cover is cleared, so the buffer behind the result holds no stale memory.
    const buf = Buffer.allocUnsafeSlow(Math.min(st.size + 4096, limit));
    const length = await readFully(io, fd, buf, 0);
    buf.fill(0, length);
    return buf.subarray(0, length);
  } finally {
    await io.close(fd);
  }
}

/** Name of the temporary file `writeFileAtomically` renames over `name`. */
export const tmpName = (name: string): string => `${name}.tmp`;

/**
 * Replaces `<dir>/<name>` so that a crash leaves either the old bytes or the new ones:
 * `<name>.tmp`, fsync, rename over `<name>`, directory fsync.
 */
export async function writeFileAtomically(
  io: StorageIo,
  dir: string,
  name: string,
  bytes: Buffer,
): Promise<void> {
  const tmp = join(dir, tmpName(name));
  const fd = await io.open(tmp, { create: true, truncate: true, mode: 0o600 });
  try {
    await io.write(fd, bytes, 0);
    await io.fsync(fd);
  } finally {
    await io.close(fd);
  }
  await io.rename(tmp, join(dir, name));
  await io.syncDirectory(dir);
}

/** Removes `path` if it is there (a bookkeeping file, or its temporary file). */
export async function removeIfPresent(io: StorageIo, path: string): Promise<void> {
  if ((await io.stat(path)) !== null) await io.unlink(path);
}
