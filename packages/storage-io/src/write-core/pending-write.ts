import type { WalError } from '@walnut/codec';
import { ioErrorFromErrno } from '../contract/errors.js';
import type { IoFd, StorageIo, SubmitOptions } from '../contract/types.js';
import { stalledWriteError, writeProgress } from './completion-rules.js';

/**
 * A write handed to a StorageIo and not finished: `length` bytes of `buf` go to the file at
 * `fileOffset`, and the first `done` of them are confirmed. Every writer keeps its writes in
 * this shape, extended with what it tracks beside them (segmented: the segment and LSNs;
 * percore: the token and its place for sync coverage), so that one step judges a completion
 * and sends the rest again for all of them (docs/decisions/0208).
 */
export interface PendingWrite {
  readonly buf: Uint8Array;
  readonly fileOffset: number;
  readonly length: number;
  /** Bytes confirmed so far: a short write's rest is sent again from here. */
  done: number;
}

/**
 * Judges the completion `result` of `w`'s part in flight by the short-write rule
 * (`writeProgress`; `sector` > 1 with O_DIRECT) and moves `w.done` over what it confirmed.
 * Returns the bytes left to send: 0 when the write is whole, more when it was short and
 * `sendRest` must send them again, or a negative errno when it failed (`writeError` says
 * why), leaving `w.done` where the failed part started.
 */
export function judgeWrite(w: PendingWrite, result: number, sector = 1): number {
  const done = writeProgress(result, w.done, w.length, sector);
  if (done < 0) return done;
  w.done = done;
  return w.length - done;
}

/**
 * Submits the part of `w` not confirmed yet (all of it before its first completion) and
 * returns its token. A whole buffer goes out as it is, without a view over it.
 */
export function sendRest(
  io: StorageIo,
  fd: IoFd,
  w: PendingWrite,
  options?: SubmitOptions,
): number {
  const data = w.done === 0 && w.length === w.buf.length ? w.buf : w.buf.subarray(w.done, w.length);
  return io.submitWrite(fd, data, w.fileOffset + w.done, options);
}

/**
 * The error of a write that `judgeWrite` found failed by its completion `result`: the
 * completion's errno (`WAL_NO_SPACE` for a full device), or, when it moved nothing, the stall.
 * `syscall` names the submission in the error (`writev` for a write of several buffers).
 */
export function writeError(
  w: PendingWrite,
  result: number,
  path: string | undefined,
  cause?: unknown,
  syscall = 'write',
): WalError {
  return result < 0
    ? ioErrorFromErrno(result, syscall, path, cause)
    : stalledWriteError(path, w.fileOffset + w.done);
}
