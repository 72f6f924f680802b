import type { IoFd, StorageIo } from '../contract/types.js';
import { judgeWrite, type PendingWrite, sendRest, writeError } from './pending-write.js';

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
export function writeFully(
  io: StorageIo,
  fd: IoFd,
  data: Uint8Array,
  offset: number,
  options: WriteFullyOptions = {},
): Promise<void> {
  return finishWrite(
    io,
    fd,
    { buf: data, fileOffset: offset, length: data.length, done: 0 },
    options,
  );
}

/**
 * `writeFully` for a write whose first `w.done` bytes are confirmed already: the rest goes
 * out, one part in flight at a time, until the write is whole or fails.
 */
export async function finishWrite(
  io: StorageIo,
  fd: IoFd,
  w: PendingWrite,
  options: WriteFullyOptions = {},
): Promise<void> {
  while (w.done < w.length) {
    const { result } = await io.completion(sendRest(io, fd, w));
    options.observe?.(result);
    if (judgeWrite(w, result) < 0) throw writeError(w, result, options.path);
  }
}
