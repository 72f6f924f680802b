import type { QueuedOp } from './base-storage-io.js';
import type { StorageIo, SubmitOptions } from './types.js';

/** The options a queued operation was submitted with, one shared object per combination. */
const OPTIONS: readonly SubmitOptions[] = [
  {},
  { linkToPrevious: true },
  { dsync: true },
  { linkToPrevious: true, dsync: true },
];

/**
 * Hands a queued operation on, with the options it was submitted with, to another
 * StorageIo, as the wrappers (faulty, recording) do; a write or writev carries only its
 * first `allowed` bytes (a simulated short write). Returns the other instance's token.
 */
export function submitQueued(io: StorageIo, op: QueuedOp, allowed = op.requested): number {
  const options = OPTIONS[(op.link ? 1 : 0) + (op.dsync ? 2 : 0)]!;
  switch (op.op) {
    case 'open':
      return io.submitOpen(op.open!.path, op.open!.options);
    case 'write':
      return io.submitWrite(
        op.fd,
        allowed < op.requested ? op.data!.subarray(0, allowed) : op.data!,
        op.offset,
        options,
      );
    case 'writev':
      return io.submitWritev(
        op.fd,
        allowed < op.requested ? prefixOf(op.buffers!, allowed) : op.buffers!,
        op.offset,
        options,
      );
    case 'read':
      return io.submitRead(op.fd, op.data!, op.offset, options);
    case 'fdatasync':
      return io.submitDatasync(op.fd, options);
    case 'fsync':
      return io.submitFsync(op.fd, options);
    case 'fallocate':
      return io.submitFallocate(op.fd, op.offset, op.requested, options);
    case 'writeback':
      return io.submitWriteback(op.fd, op.offset, op.requested, options);
  }
}

/** The first `bytes` bytes of a buffer list, as views. */
function prefixOf(buffers: readonly Uint8Array[], bytes: number): Uint8Array[] {
  const prefix: Uint8Array[] = [];
  let left = bytes;
  for (const buffer of buffers) {
    if (left === 0) break;
    const take = Math.min(left, buffer.length);
    prefix.push(take === buffer.length ? buffer : buffer.subarray(0, take));
    left -= take;
  }
  return prefix;
}
