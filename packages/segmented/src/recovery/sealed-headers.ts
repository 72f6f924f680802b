import { FILE_HEADER_SIZE, type FileHeader } from '@walnut/codec';
import { ioErrorFromErrno, readFully, type StorageIo } from '@walnut/storage-io';
import { checkHeader } from './segment-scan.js';

/** A sealed segment as open checks it without scanning it (decision 0311). */
export interface SealedHeader {
  header: FileHeader;
  fileSize: number;
}

/**
 * Headers read together, this many at a time: one after another, a log of 256 segments
 * took 256 round trips of open, fstat, read and close (3× the open time of 16 segments),
 * and one read submitted at a time cost an io_uring_enter each.
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

/** One batch: every open, then every header read in one submission, then sizes and closes. */
async function readBatch(
  io: StorageIo,
  batch: readonly Segment[],
): Promise<(SealedHeader | Error)[]> {
  const fds = await Promise.all(
    batch.map(({ path }) => io.open(path, { readOnly: true }).catch(asError)),
  );
  const buffers = batch.map(() => Buffer.alloc(FILE_HEADER_SIZE));
  // Queued first and claimed after: the first claim hands them all to the kernel at once.
  const tokens = fds.map((fd, i) =>
    typeof fd === 'number' ? io.submitRead(fd, buffers[i]!, 0) : -1,
  );
  return Promise.all(
    batch.map(async ({ path, firstLsn }, i): Promise<SealedHeader | Error> => {
      const fd = fds[i]!;
      if (typeof fd !== 'number') return fd;
      let result: SealedHeader | Error;
      try {
        const { result: got } = await io.completion(tokens[i]!);
        if (got < 0) throw ioErrorFromErrno(got, 'read', path);
        const buf = buffers[i]!;
        // A short read (not seen from the page cache) is finished the usual way.
        const length =
          got > 0 && got < FILE_HEADER_SIZE
            ? got + (await readFully(io, fd, buf.subarray(got), got))
            : got;
        const header = checkHeader(buf.subarray(0, length), path, firstLsn);
        result = { header, fileSize: await io.size(fd) };
      } catch (err) {
        result = asError(err);
      }
      try {
        await io.close(fd);
      } catch (err) {
        if (!(result instanceof Error)) result = asError(err);
      }
      return result;
    }),
  );
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
