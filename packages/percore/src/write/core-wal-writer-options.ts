import { badArgument, invalidArgument } from '@walnut/codec';
import type { StorageIo } from '@walnut/storage-io';
import type { ResumePoint } from '../files/resume-point.js';
import type { Clock } from './clock.js';

/**
 * Default `bufferSize` of a CoreWalWriter: entries are encoded into a buffer of this size and
 * written many at a time. Its own name: segmented's write buffer is another writer's, of 1 MiB.
 */
export const DEFAULT_CORE_BUFFER_SIZE = 256 * 1024;

/**
 * @deprecated Use `DEFAULT_CORE_BUFFER_SIZE`. `@walnut/segmented` exports a constant of this
 * name for its own write buffer (1 MiB); this one is the per-core writer's (256 KiB).
 */
export const DEFAULT_WRITE_BUFFER_SIZE = DEFAULT_CORE_BUFFER_SIZE;

export interface CoreWalWriterOptions {
  /** The StorageIo to write through. Default: `createStorageIo()`, owned (closed) by the writer. */
  readonly io?: StorageIo;
  /** Nanosecond clock for entry timestamps (default: wall clock). It may step back; stamps do not. */
  readonly clock?: Clock;
  /** Bytes per write buffer (default 256 KiB). An entry larger than this gets its own buffer. */
  readonly bufferSize?: number;
}

export interface OpenAtOptions extends CoreWalWriterOptions {
  /**
   * Validate only from this boundary (default: the file header). Needed after space before a
   * checkpoint was reclaimed, and saves a rescan when the caller has just scanned the file.
   */
  readonly from?: ResumePoint;
}

export function checkOptions(options: CoreWalWriterOptions): void {
  const { bufferSize, clock } = options;
  if (bufferSize !== undefined && (!Number.isSafeInteger(bufferSize) || bufferSize < 4096))
    badArgument('bufferSize', 'an integer ≥ 4096', bufferSize);
  if (clock !== undefined && typeof clock !== 'function')
    invalidArgument('clock must be a function returning a bigint');
}
