import { FILE_HEADER_SIZE, type FileHeader } from '@walnut/codec';
import { readFileHeads, type StorageIo } from '@walnut/storage-io';
import { checkHeader } from './segment-scan.js';

/** A sealed segment as open checks it without scanning it (decision 0311). */
export interface SealedHeader {
  header: FileHeader;
  fileSize: number;
}

/**
 * Headers read together, this many at a time (`readFileHeads`: one pass of the backend's,
 * the reads in one submission): one after another, a log of 256 segments took 256 round
 * trips of open, fstat, read and close (3× the open time of 16 segments). Batches bound
 * how long the event loop waits for a pass.
 */
const AT_ONCE = 128;

interface Segment {
  path: string;
  firstLsn: bigint;
}

/**
 * Starts reading the header (and size) of each segment in `segments` now, `AT_ONCE` at a
 * time, each batch's reads handed to the kernel in one submission; `get(i)` is the result
 * for `segments[i]`, rejecting as `readHeader` would. A result never awaited (recovery
 * stopped before it) is dropped without an unhandled rejection.
 */
export function readHeadersAhead(
  io: StorageIo,
  segments: readonly Segment[],
): (i: number) => Promise<SealedHeader> {
  const settle: ((result: SealedHeader | Error) => void)[] = [];
  const results = segments.map(
    () =>
      new Promise<SealedHeader>((resolve, reject) => {
        settle.push((result) => (result instanceof Error ? reject(result) : resolve(result)));
      }),
  );
  for (const result of results) result.catch(() => {});
  void (async () => {
    for (let from = 0; from < segments.length; from += AT_ONCE) {
      const batch = segments.slice(from, from + AT_ONCE);
      const read = await readBatch(io, batch).catch((err) => batch.map(() => asError(err)));
      for (let i = 0; i < batch.length; i++) settle[from + i]!(read[i]!);
    }
  })();
  return (i) => results[i]!;
}

/** One batch: every header through the backend's pass over many files, then each checked. */
async function readBatch(
  io: StorageIo,
  batch: readonly Segment[],
): Promise<(SealedHeader | Error)[]> {
  const heads = await readFileHeads(
    io,
    batch.map((s) => s.path),
    FILE_HEADER_SIZE,
  );
  return heads.map((head, i) => {
    if (head instanceof Error) return head;
    const { path, firstLsn } = batch[i]!;
    try {
      return { header: checkHeader(head.bytes, path, firstLsn), fileSize: head.size };
    } catch (err) {
      return asError(err);
    }
  });
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
