import type { FileHeader } from '@walnut/codec';
import type { StorageIo } from '@walnut/storage-io';
import { readHeader } from './segment-scan.js';

/** A sealed segment as open checks it without scanning it (decision 0311). */
export interface SealedHeader {
  header: FileHeader;
  fileSize: number;
}

/**
 * Headers read at once, this many at a time: one after another, a log of 256 segments
 * took 256 round trips of open, fstat, read and close (3× the open time of 16 segments).
 */
const AT_ONCE = 128;

/**
 * Starts reading the header (and size) of each segment in `segments` now, `AT_ONCE` at a
 * time; `get(i)` is the result for `segments[i]`, rejecting as `readHeader` would. A result
 * never awaited (recovery stopped before it) is dropped without an unhandled rejection.
 */
export function readHeadersAhead(
  io: StorageIo,
  segments: readonly { path: string; firstLsn: bigint }[],
): (i: number) => Promise<SealedHeader> {
  let active = 0;
  const waiting: (() => void)[] = [];
  const slot = async (): Promise<void> => {
    while (active >= AT_ONCE) await new Promise<void>((resolve) => waiting.push(resolve));
    active++;
  };
  const read = async ({ path, firstLsn }: { path: string; firstLsn: bigint }) => {
    await slot();
    try {
      const fd = await io.open(path, { readOnly: true });
      try {
        const fileSize = await io.size(fd);
        return { header: await readHeader(io, fd, path, firstLsn), fileSize };
      } finally {
        await io.close(fd);
      }
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
  const results = segments.map((segment) => {
    const result = read(segment);
    result.catch(() => {});
    return result;
  });
  return (i) => results[i]!;
}
