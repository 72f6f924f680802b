import { badArgument, checkOptionKeys, DEFAULT_MAX_RECORD_SIZE, pathOption } from '@walnut/codec';
import type { IoUringConfig, StorageChoice } from '@walnut/storage-io';

/**
 * What a portable file holds:
 * - `'records'` (default): only checksummed records (`appendWithChecksum*`), each a codec
 *   record frame. Opening scans the file, cuts a torn tail (and fsyncs the cut), refuses
 *   mid-file damage with `WAL_CORRUPT`, and continues the LSNs.
 * - `'raw'`: your own bytes (`append*`), optionally mixed with checksummed records. Walnut
 *   cannot check raw bytes, so opening appends at the current end of the file. Checksummed
 *   records go on numbering after a reopen only when the file holds nothing else; otherwise
 *   their next LSN is unknown and `appendWithChecksum*` is refused (`WAL_BAD_STATE`).
 */
export type PortableContent = 'records' | 'raw';

export interface PortableWalWriterConfig {
  /** A StorageIo instance (never closed by the writer) or a backend name. Default `'auto'`. */
  storageIo?: StorageChoice;
  /** io_uring options when the writer creates an io_uring backend. */
  ioUring?: IoUringConfig;
  /** A batch is written (plus one fdatasync) once it holds this many file bytes. Default 1 MiB. */
  maxBatchBytes?: number;
  /** Default `'records'`. */
  content?: PortableContent;
  /** Largest payload of a checksummed record. Default `DEFAULT_MAX_RECORD_SIZE` (16 MiB). */
  maxRecordSize?: number;
}

const DEFAULT_MAX_BATCH_BYTES = 1024 * 1024;
const OPTION_NAMES: readonly (keyof PortableWalWriterConfig)[] = [
  'storageIo',
  'ioUring',
  'maxBatchBytes',
  'content',
  'maxRecordSize',
];

/** The checked options of `PortableWalWriter.open()`, defaults filled in. */
export interface PortableOptions {
  path: string;
  content: PortableContent;
  maxBatchBytes: number;
  maxRecordSize: number;
}

/** Checks what `open()` was given (WAL_BAD_ARGUMENT naming the option) and fills in defaults. */
export function portableOptions(
  file: string | URL,
  config: PortableWalWriterConfig,
): PortableOptions {
  const path = pathOption(file, 'path');
  if (typeof config !== 'object' || config === null)
    badArgument('config', 'an options object', config);
  // A misspelt option would otherwise be ignored and its default used without a word.
  checkOptionKeys(config, OPTION_NAMES, 'PortableWalWriter.open()');
  const content = config.content ?? 'records';
  if (content !== 'records' && content !== 'raw') {
    badArgument('content', "'records' or 'raw'", content);
  }
  const maxBatchBytes = config.maxBatchBytes ?? DEFAULT_MAX_BATCH_BYTES;
  if (!Number.isSafeInteger(maxBatchBytes) || maxBatchBytes < 1) {
    badArgument('maxBatchBytes', 'a positive integer', maxBatchBytes);
  }
  const maxRecordSize = config.maxRecordSize ?? DEFAULT_MAX_RECORD_SIZE;
  if (!Number.isSafeInteger(maxRecordSize) || maxRecordSize < 1) {
    badArgument('maxRecordSize', 'a positive integer', maxRecordSize);
  }
  return { path, content, maxBatchBytes, maxRecordSize };
}
