import { createStorageIo, type StorageIo } from '@walnut/storage-io';

/** The StorageIo the caller passed, or a new one that the caller of this function owns (closes). */
export function ioOrOwned(io: StorageIo | undefined): { io: StorageIo; ownsIo: boolean } {
  return io ? { io, ownsIo: false } : { io: createStorageIo(), ownsIo: true };
}
