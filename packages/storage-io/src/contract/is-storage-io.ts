import type { StorageIo } from './types.js';

/**
 * The methods a StorageIo must have: a Record over the interface's, so the compiler holds
 * them equal. Optional ones (`readHeads`) have a fallback where they are used.
 */
type MethodName = {
  [K in keyof StorageIo]-?: undefined extends StorageIo[K]
    ? never
    : StorageIo[K] extends (...args: never[]) => unknown
      ? K
      : never;
}[keyof StorageIo];

const METHODS: Record<MethodName, true> = {
  close: true,
  size: true,
  truncate: true,
  mkdir: true,
  readdir: true,
  stat: true,
  rename: true,
  unlink: true,
  syncDirectory: true,
  lock: true,
  submitOpen: true,
  submitWrite: true,
  submitWritev: true,
  submitRead: true,
  submitDatasync: true,
  submitFsync: true,
  submitFallocate: true,
  submitWriteback: true,
  flush: true,
  pollCompletions: true,
  waitCompletions: true,
  completion: true,
  onCompletion: true,
  reapCompletions: true,
  open: true,
  write: true,
  read: true,
  datasync: true,
  fsync: true,
  fallocate: true,
  describe: true,
  closeIo: true,
};
const METHOD_NAMES = Object.keys(METHODS) as readonly MethodName[];

/**
 * The first StorageIo method `value` lacks, or null when it has every one: the one answer to
 * "is this a StorageIo?" for every layer that takes one from a caller (and the name for the
 * message when it is not).
 */
export function missingStorageIoMethod(value: unknown): string | null {
  const io = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
  return METHOD_NAMES.find((name) => typeof io[name] !== 'function') ?? null;
}

/** Whether `value` has every method of a StorageIo. */
export function isStorageIo(value: unknown): value is StorageIo {
  return missingStorageIoMethod(value) === null;
}
