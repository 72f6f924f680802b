import { badArgument } from '@walnut/codec';
import { createStorageIo, type IoUringConfig, type StorageIo } from '@walnut/storage-io';

/** A ready StorageIo, or the name of a backend for Walnut to create. */
export type StorageChoice = StorageIo | 'auto' | 'io_uring' | 'sync-fs' | 'memory';

export interface ResolvedStorage {
  readonly io: StorageIo;
  /** True when Walnut created the instance and so must close it. */
  readonly owned: boolean;
}

const BACKEND_NAMES = new Set(['auto', 'io_uring', 'sync-fs', 'memory']);

/** A caller's instance is used as is and never closed by Walnut; a backend name creates one. */
export function resolveStorage(
  choice: StorageChoice | undefined,
  ioUring: IoUringConfig | undefined,
): ResolvedStorage {
  if (choice === undefined || typeof choice === 'string') {
    const backend = choice ?? 'auto';
    if (!BACKEND_NAMES.has(backend)) {
      badArgument(
        'storageIo',
        "a StorageIo or one of 'auto', 'io_uring', 'sync-fs', 'memory'",
        choice,
      );
    }
    return { io: createStorageIo({ backend, ioUring }), owned: true };
  }
  if (typeof choice !== 'object' || choice === null || typeof choice.submitWrite !== 'function') {
    badArgument(
      'storageIo',
      "a StorageIo or one of 'auto', 'io_uring', 'sync-fs', 'memory'",
      choice,
    );
  }
  return { io: choice, owned: false };
}
