import type { IoFd, StorageIo } from '@walnut/storage-io';

/** Reads until `into` is full or the file ends; resolves with the bytes read. */
export async function readFully(
  io: StorageIo,
  fd: IoFd,
  into: Buffer,
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
