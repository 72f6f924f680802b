import type { IoFd, StorageIo } from './types.js';

/**
 * Reads until `into` is full or the file ends (a read returns 0); resolves with the bytes
 * read. `StorageIo.read` may return fewer bytes than asked; callers that need a whole
 * chunk use this instead of looping themselves.
 */
export async function readFully(
  io: StorageIo,
  fd: IoFd,
  into: Uint8Array,
  offset: number,
): Promise<number> {
  let done = 0;
  while (done < into.length) {
    const n = await io.read(fd, into.subarray(done), offset + done);
    if (n === 0) break;
    done += n;
  }
  return done;
}
