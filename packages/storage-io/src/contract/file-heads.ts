import { ioErrorFromErrno } from './errors.js';
import { readFully } from './read-fully.js';
import type { FileHead, StorageIo } from './types.js';

/**
 * The first `length` bytes and the size of each of `paths` (see `StorageIo.readHeads`):
 * the backend's own pass where it has one, else every file through its open, read, size
 * and close — the reads handed to the kernel together.
 */
export function readFileHeads(
  io: StorageIo,
  paths: readonly string[],
  length: number,
): Promise<(FileHead | Error)[]> {
  return typeof io.readHeads === 'function'
    ? io.readHeads(paths, length)
    : headsFileByFile(io, paths, length);
}

async function headsFileByFile(
  io: StorageIo,
  paths: readonly string[],
  length: number,
): Promise<(FileHead | Error)[]> {
  const fds = await Promise.all(
    paths.map((path) => io.open(path, { readOnly: true }).catch(asError)),
  );
  const buffers = paths.map(() => Buffer.alloc(length));
  // Queued first and claimed after: the first claim hands them all to the kernel at once.
  const tokens = fds.map((fd, i) =>
    typeof fd === 'number' ? io.submitRead(fd, buffers[i]!, 0) : -1,
  );
  return Promise.all(
    paths.map(async (path, i): Promise<FileHead | Error> => {
      const fd = fds[i]!;
      if (typeof fd !== 'number') return fd;
      let result: FileHead | Error;
      try {
        const { result: got } = await io.completion(tokens[i]!);
        if (got < 0) throw ioErrorFromErrno(got, 'read', path);
        const buf = buffers[i]!;
        const read =
          got > 0 && got < length ? got + (await readFully(io, fd, buf.subarray(got), got)) : got;
        result = { bytes: buf.subarray(0, read), size: await io.size(fd) };
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
