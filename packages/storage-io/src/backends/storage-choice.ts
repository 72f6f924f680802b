import { badArgument } from '@walnut/codec';
import { missingStorageIoMethod } from '../contract/is-storage-io.js';
import type { StorageIo } from '../contract/types.js';
import { BACKEND_CHOICES, type BackendChoice, openStorageIo } from './create.js';
import type { IoUringConfig } from './io-uring.js';

/** A ready StorageIo, or the name of a backend for Walnut to create. */
export type StorageChoice = StorageIo | BackendChoice;

export interface ResolvedStorage {
  readonly io: StorageIo;
  /** True when Walnut created the instance and so must close it. */
  readonly owned: boolean;
}

/** `value` as a StorageChoice, checked under the option name `name` (WAL_BAD_ARGUMENT). */
export function checkStorageChoice(value: unknown, name: string): StorageChoice {
  if (typeof value === 'string' && (BACKEND_CHOICES as readonly string[]).includes(value))
    return value as BackendChoice;
  const missing = missingStorageIoMethod(value);
  if (missing === null) return value as StorageIo;
  // An object was meant as a StorageIo: say what it lacks (a string was meant as a name).
  const lacks =
    typeof value === 'object' && value !== null ? ` (it has no ${missing}() method)` : '';
  return badArgument(
    name,
    `a StorageIo${lacks} or one of ${BACKEND_CHOICES.map((b) => `'${b}'`).join(', ')}`,
    value,
  );
}

/**
 * A caller's instance is used as is and never closed by Walnut; a backend name creates one
 * (`auto` after proving io_uring works in this runtime, once per process).
 */
export async function resolveStorage(
  choice: StorageChoice | undefined,
  ioUring: IoUringConfig | undefined,
): Promise<ResolvedStorage> {
  const checked = choice === undefined ? 'auto' : checkStorageChoice(choice, 'storageIo');
  if (typeof checked === 'string') {
    return { io: await openStorageIo({ backend: checked, ioUring }), owned: true };
  }
  return { io: checked, owned: false };
}
