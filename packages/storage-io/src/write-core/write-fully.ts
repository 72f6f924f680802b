import { ioErrorFromErrno } from '../contract/errors.js';
import type { IoFd, StorageIo } from '../contract/types.js';
import { stalledWriteError, writeProgress } from './completion-rules.js';

export interface WriteFullyOptions {
  /** The file's path, for the errors. */
  readonly path?: string;
  /** Told every completion's result (bytes or -errno), for a writer's counters. */
  readonly observe?: (result: number) => void;
}

/**
 * Writes all of `data` at `offset`, one write in flight at a time, by the short-write rule:
 * each short completion sends the rest again. Rejects with the failure's WalError
 * (`WAL_NO_SPACE` for a full device, `WAL_IO` otherwise); what a rejected call left in the
 * file is a prefix of `data` the caller must cut or overwrite.
 */
export async function writeFully(
  io: StorageIo,
  fd: IoFd,
  data: Uint8Array,
  offset: number,
  options: WriteFullyOptions = {},
): Promise<void> {
  let done = 0;
  while (done < data.length) {
    const chunk = done === 0 ? data : data.subarray(done);
    const { result } = await io.completion(io.submitWrite(fd, chunk, offset + done));
    options.observe?.(result);
    const next = writeProgress(result, done, data.length);
    if (next < 0) {
      throw result < 0
        ? ioErrorFromErrno(result, 'write', options.path)
        : stalledWriteError(options.path, offset + done);
    }
    done = next;
  }
}
