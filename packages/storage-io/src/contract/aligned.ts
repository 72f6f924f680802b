import { WalError, WalErrorCode } from '@walnut/codec';
import { loadNative } from '../native.js';

/**
 * The alignment Walnut gives O_DIRECT I/O: memory address, file offset and length. Linux
 * asks for the device's logical block size (512 bytes on most disks, 4096 on some); the
 * page size satisfies both.
 */
export const DIRECT_IO_ALIGNMENT = 4096;

/**
 * The block O_DIRECT demands on a disk with 512-byte logical blocks: the memory backend
 * refuses transfers misaligned to it, and the faulty backend cuts direct writes at it.
 */
export const DIRECT_IO_SECTOR = 512;

/** Why page-aligned buffers cannot be had in this process, or null when they can. */
export function alignedBufferUnavailable(): string | null {
  const { binding, reason } = loadNative();
  return binding === null ? `aligned buffers need the storage-io addon: ${reason}` : null;
}

/**
 * A zero-filled Buffer of `size` bytes whose memory starts on a DIRECT_IO_ALIGNMENT
 * boundary, as a file opened with `{ direct: true }` needs. The garbage collector frees it.
 * Node's own allocator gives no such promise, so this needs the native addon: without it,
 * it throws WAL_BACKEND_UNAVAILABLE (check `alignedBufferUnavailable()` first).
 */
export function alignedBuffer(size: number): Buffer {
  if (!Number.isSafeInteger(size) || size < 1) {
    throw new WalError(
      WalErrorCode.BAD_ARGUMENT,
      `size must be a positive integer number of bytes, got ${String(size)}`,
    );
  }
  const binding = loadNative().binding;
  if (binding === null) {
    throw new WalError(WalErrorCode.BACKEND_UNAVAILABLE, alignedBufferUnavailable()!);
  }
  const buffer = binding.allocAligned(size);
  if (buffer === null) {
    throw new WalError(
      WalErrorCode.IO,
      `could not allocate ${size} bytes of page-aligned memory; free memory or use smaller buffers`,
    );
  }
  return buffer;
}
