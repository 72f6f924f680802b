import type { QueuedOp } from './base-storage-io.js';
import type { StorageIo, SubmitOptions } from './types.js';

/**
 * Hands a queued operation on to another StorageIo, as the wrappers (faulty, recording) do;
 * a write or writev carries only its first `allowed` bytes (a simulated short write).
 * Returns the other instance's token.
 */
export function submitQueued(
  io: StorageIo,
  op: QueuedOp,
  options: SubmitOptions,
  allowed = op.requested,
): number {
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
