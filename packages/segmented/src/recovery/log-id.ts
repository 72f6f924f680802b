import type { StorageIo } from '@walnut/storage-io';
import { readHeader } from './segment-scan.js';

// Every version 2 segment of a log carries the log's id (FORMAT.md, "Log id"); a segment of
// another log copied in under a fitting name is refused by its header before any of its
// records is read.

/**
 * The log id in the header of segment `path`: undefined when that segment is version 1 or
 * its header cannot be read (recovery judges that segment itself).
 */
export async function logIdOf(
  io: StorageIo,
  path: string,
  firstLsn: bigint,
): Promise<bigint | undefined> {
  let fd: number;
  try {
    fd = await io.open(path, { readOnly: true });
  } catch {
    return undefined;
  }
  try {
    const header = await readHeader(io, fd, path, firstLsn);
    return header.version >= 2 ? header.logId : undefined;
  } catch {
    return undefined;
  } finally {
    await io.close(fd);
  }
}
