import { statSync } from 'node:fs';
import { join } from 'node:path';
import {
  badArgument,
  checkOptionKeys,
  decodeFileHeader,
  FILE_HEADER_SIZE,
  type FileHeader,
  FrameCipher,
  invalidArgument,
  ioErrorFromNode,
  KeyRing,
  MAX_FRAME_BODY,
  pathOption,
  segmentFileName,
  WalError,
  WalErrorCode,
} from '@walnut/codec';
import type { FrameSource } from './frame-source.js';
import { MappedFrameSource } from './mapped-source.js';
import { type RequestedMode, resolveMode } from './mode.js';
import type { NativeMmap } from './native.js';
import { ReadFrameSource } from './read-source.js';

export interface MmapWalReaderOptions {
  /** Keys for encrypted segments (the header names the key id). */
  keyRing?: KeyRing;
  /** 'auto' (default) maps the file when the addon loaded, else reads it; `WALNUT_MMAP_READER_NATIVE=0` (or `WALNUT_NATIVE=0`) forces 'read'. */
  mode?: RequestedMode;
  /** Largest frame body accepted; a longer frame is treated as damage. Default: the format limit (1 GiB). */
  maxFrameBody?: number;
  /**
   * Reads the file as if it ended at this offset (a shorter file is read to its end): the
   * part of a segment still being written that its writer reports written (SegmentedWal's
   * `listSegments()[i].writtenBytes`). No byte past it is touched, so a writer may extend
   * the file, or cut it back to no less than `end`, while this reader runs.
   */
  end?: number;
  /**
   * The LSN the file's last record must have: a sealed segment's successor's first LSN − 1,
   * when no gap lies between. A frame past it, or an end of data before it, stops the reader
   * as corrupt, so a cut, zeroed or foreign segment is damage before a record past its range
   * is handed out (decision 0311).
   */
  lastLsn?: bigint;
}

/** Every option of MmapWalReaderOptions; the type makes one added above be added here too. */
export const READER_OPTIONS: Readonly<Record<keyof MmapWalReaderOptions, true>> = {
  keyRing: true,
  mode: true,
  maxFrameBody: true,
  end: true,
  lastLsn: true,
};

/** A segment file opened for reading: what MmapWalReader is built from. */
export interface OpenedFile {
  path: string;
  source: FrameSource;
  /** Why the source is mapped or read. */
  reason: string;
  /** Null for a zero-length file. */
  header: FileHeader | null;
  cipher: FrameCipher | null;
  maxBody: number;
  lastLsn: bigint | null;
}

/**
 * What `MmapWalReader.open` does before the reader exists: checks the options, opens the file
 * as a mapping or for read() (a portable file, which its writer cuts in place, is read
 * unless 'mmap' was asked for), decodes the header and finds the key. Nothing stays open
 * when it throws.
 */
export function openSegmentFile(file: string | URL, options: MmapWalReaderOptions): OpenedFile {
  const path = pathOption(file, 'path');
  if (typeof options !== 'object' || options === null) invalidArgument('options must be an object');
  checkOptionKeys(options, Object.keys(READER_OPTIONS), 'MmapWalReader.open()');
  const maxBody = options.maxFrameBody ?? MAX_FRAME_BODY;
  if (!Number.isInteger(maxBody) || maxBody < 1 || maxBody > MAX_FRAME_BODY)
    badArgument('maxFrameBody', `an integer in 1..${MAX_FRAME_BODY}`, maxBody);
  if (options.keyRing !== undefined && !(options.keyRing instanceof KeyRing))
    invalidArgument('keyRing must be a KeyRing from @walnut/codec');
  const end = options.end ?? Number.POSITIVE_INFINITY;
  if (options.end !== undefined && !(Number.isSafeInteger(end) && end >= 0))
    badArgument('end', 'a non-negative integer (a file offset)', options.end);
  const lastLsn = options.lastLsn ?? null;
  if (lastLsn !== null && (typeof lastLsn !== 'bigint' || lastLsn < 0n))
    badArgument('lastLsn', 'a bigint ≥ 0n', options.lastLsn);
  const resolved = resolveMode(options.mode);
  let source = openSource(path, resolved.addon, maxBody, end);
  let reason = resolved.reason;
  try {
    const header = source.length === 0 ? null : readHeader(source, path);
    if (header?.fileKind === 'portable' && source.mode === 'mmap' && options.mode !== 'mmap') {
      // Its writer cuts it in place (truncateAfter, a torn tail at open): a mapping of the
      // cut pages would raise SIGBUS and kill this process, where read() just ends.
      source.close();
      source = openSource(path, null, maxBody, end);
      reason =
        "a portable file, which its writer cuts in place (truncateAfter, a torn tail at open): read, not mapped, where a cut would raise SIGBUS; pass mode: 'mmap' for a file no writer has open";
    }
    const cipher = header === null ? null : cipherFor(header, path, options);
    return { path, source, reason, header, cipher, maxBody, lastLsn };
  } catch (error) {
    source.close();
    // Read mode opens a directory, then fails reading its header (EISDIR).
    throw directoryError(path) ?? error;
  }
}

/** The file as a mapping (through `addon`), or read with read() when it is null. */
function openSource(
  path: string,
  addon: NativeMmap | null,
  maxBody: number,
  end: number,
): FrameSource {
  try {
    return addon === null
      ? new ReadFrameSource(path, maxBody, end)
      : new MappedFrameSource(path, addon, maxBody, end);
  } catch (error) {
    throw directoryError(path) ?? ioErrorFromNode(error, addon === null ? 'open' : 'mmap', path);
  }
}

function readHeader(source: FrameSource, path: string): FileHeader {
  const header = decodeFileHeader(source.readPrefix(FILE_HEADER_SIZE), path);
  if (header.fileKind === 'core')
    invalidArgument(
      `${path} is a per-core file; read it with PerCoreWalReader from @walnut/percore`,
    );
  return header;
}

function cipherFor(
  header: FileHeader,
  path: string,
  options: MmapWalReaderOptions,
): FrameCipher | null {
  if (header.cipher === 'none') return null;
  if (options.keyRing === undefined)
    throw new WalError(
      WalErrorCode.KEY_MISSING,
      `${path} is encrypted with key id ${header.keyId}; pass { keyRing } holding that key`,
      { details: { segment: path, keyId: header.keyId } },
    );
  return FrameCipher.forFile(options.keyRing, header, path);
}

/**
 * When opening `path` failed because it is a directory (mmap says EINVAL, read EISDIR), the
 * error that says so; checked only after a failure, so opening a segment costs no stat.
 */
function directoryError(path: string): WalError | undefined {
  let isDirectory: boolean;
  try {
    isDirectory = statSync(path).isDirectory();
  } catch {
    return undefined;
  }
  if (!isDirectory) return undefined;
  return new WalError(
    WalErrorCode.BAD_ARGUMENT,
    `${path} is a directory: MmapWalReader.open reads one segment file (such as ${join(path, segmentFileName(1n))}); to read a log directory, use replaySegmentsMmap(dir, fromLsn, fn)`,
    { details: { path } },
  );
}
