import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import {
  CUT_FILE,
  decodeCut,
  decodeFloor,
  decodeGaps,
  decodeHead,
  FLOOR_FILE,
  GAPS_FILE,
  HEAD_FILE,
  ioErrorFromNode,
  isNotFound,
  isWalError,
  type LsnGap,
  segmentFilesIn,
  WalError,
  WalErrorCode,
} from '@walnut/codec';
import { UsageError } from '../errors.js';
import { readFileHeader } from './file-header.js';

/**
 * Read-only views of a log directory, straight from the files as FORMAT.md describes them.
 * They take no lock and open nothing for writing, so they work beside a running writer
 * and on a log too damaged for the library to open.
 */

export interface SegmentFile {
  readonly name: string;
  readonly path: string;
  /** The first LSN the file name claims. */
  readonly firstLsn: bigint;
  readonly sizeBytes: number;
}

/** The segment files in LSN order. Throws WAL_IO (ENOENT) when the directory is missing. */
export async function listSegmentFiles(dir: string): Promise<SegmentFile[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    throw ioErrorFromNode(error, 'readdir', dir);
  }
  const segments: SegmentFile[] = [];
  for (const { name, firstLsn } of segmentFilesIn(names)) {
    const path = join(dir, name);
    let size: number;
    try {
      size = (await stat(path)).size;
    } catch (error) {
      // Deleted since the listing (retention, truncateBefore of a writer beside us): the
      // listing is of what is there.
      if (isNotFound(error)) continue;
      throw ioErrorFromNode(error, 'stat', path);
    }
    segments.push({ name, path, firstLsn, sizeBytes: size });
  }
  return segments;
}

/**
 * The segment files of `dir`, or a usage error (exit 2) when it is not a log: missing, not
 * a directory (a segment file, say), or holding no segment file. A log always holds one
 * (opening creates the first), so every command — inspect, dump, verify, tail, repair —
 * treats these the same way.
 */
export async function requireLogDirectory(dir: string): Promise<SegmentFile[]> {
  let isDirectory: boolean;
  try {
    isDirectory = (await stat(dir)).isDirectory();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new UsageError(
        `${dir} does not exist; pass the directory of a Walnut log`,
        WalErrorCode.NOT_A_LOG,
      );
    }
    throw ioErrorFromNode(error, 'stat', dir);
  }
  if (!isDirectory) throw new UsageError(notADirectory(dir), WalErrorCode.NOT_A_LOG);
  const segments = await listSegmentFiles(dir);
  // Per-core logs are Walnut's too, under names of the application's choosing (even *.wal):
  // said so before any command reads (or repairs) their files as segments.
  const candidates = segments.length > 0 ? [segments[0]!.path] : await filesIn(dir);
  if (await someHeaderIsCore(candidates)) {
    throw new UsageError(
      `${dir} holds per-core logs (files of kind 'core', written by @walnut/percore), which this CLI does not read: it reads the segmented logs of Wal and SegmentedWal. Recover them with PerCoreWalManager.openAndRecover, or read one core's file with PerCoreWalReader`,
      WalErrorCode.NOT_A_LOG,
    );
  }
  if (segments.length === 0) {
    throw new UsageError(
      `${dir} is not a Walnut log: it holds no segment files (*.wal); pass the directory a Wal or SegmentedWal was opened on`,
      WalErrorCode.NOT_A_LOG,
    );
  }
  const cut = await pendingCut(dir);
  if (cut !== null) {
    // Segments the cut deletes may be gone already and HEAD lowered: read as they are, the
    // files would look damaged, or hand out records the cut removes.
    throw new WalError(
      WalErrorCode.BAD_STATE,
      `${dir} is in the middle of a truncateAfter(${cut}): a writer is cutting it now, or one stopped (a crash, a power loss) before the cut was done. If no writer has it open, run \`walnut repair ${dir}\`, which finishes the cut as the next writer's open would; otherwise try again in a moment`,
      { details: { lsn: cut } },
    );
  }
  return segments;
}

/** The LSN a truncateAfter that has not finished keeps records up to, or null. */
export async function pendingCut(dir: string): Promise<bigint | null> {
  const cut = await readDecodedFile(dir, CUT_FILE, decodeCut);
  return cut.kind === 'valid' && cut.value.state === 'pending' ? cut.value.afterLsn : null;
}

/** Files looked at for a per-core log's headers: enough for any core count a machine has. */
const HEADER_PROBES = 16;

/** The regular files of `dir` (at most HEADER_PROBES of them). */
async function filesIn(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch((error: unknown) => {
    throw ioErrorFromNode(error, 'readdir', dir);
  });
  return entries
    .filter((entry) => entry.isFile())
    .slice(0, HEADER_PROBES)
    .map((entry) => join(dir, entry.name));
}

async function someHeaderIsCore(paths: readonly string[]): Promise<boolean> {
  for (const path of paths) {
    if ((await readFileHeader(path).catch(() => null))?.fileKind === 'core') return true;
  }
  return false;
}

function notADirectory(path: string): string {
  if (segmentFilesIn([basename(path)]).length > 0) {
    return `${path} is one segment file of a Walnut log, not the log; pass the directory that holds it (${dirname(path)})`;
  }
  return `${path} is a file, not a Walnut log; pass the directory a Wal or SegmentedWal was opened on`;
}

/** A file holding one LSN (FLOOR, HEAD): absent, valid, or damaged. */
export type LsnFileState =
  | { readonly kind: 'absent' }
  | { readonly kind: 'valid'; readonly lsn: bigint }
  | { readonly kind: 'damaged'; readonly reason: string };

export type FloorState = LsnFileState;

/** A small file of the log directory decoded by codec: absent, valid, or damaged. */
export type DecodedFile<T> =
  | { readonly kind: 'absent' }
  | { readonly kind: 'valid'; readonly value: T }
  | { readonly kind: 'damaged'; readonly reason: string };

/**
 * `<dir>/<name>` through `decode` (a codec decoder, which throws a WalError for damage).
 * A read error other than the file's absence is a WalError of its own.
 */
export async function readDecodedFile<T>(
  dir: string,
  name: string,
  decode: (bytes: Uint8Array, path: string) => T,
): Promise<DecodedFile<T>> {
  const path = join(dir, name);
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // ENOTDIR: `dir` is a file, which requireLogDirectory reports as a usage error.
    if (code === 'ENOENT' || code === 'ENOTDIR') return { kind: 'absent' };
    throw ioErrorFromNode(error, 'read', path);
  }
  try {
    return { kind: 'valid', value: decode(bytes, name) };
  } catch (error) {
    if (!isWalError(error)) throw error;
    return { kind: 'damaged', reason: error.message };
  }
}

async function readLsnFile(
  dir: string,
  name: string,
  decode: (bytes: Uint8Array, path: string) => bigint,
): Promise<LsnFileState> {
  const state = await readDecodedFile(dir, name, decode);
  return state.kind === 'valid' ? { kind: 'valid', lsn: state.value } : state;
}

/** The retained floor from `<dir>/FLOOR` (format: @walnut/codec's decodeFloor). */
export function readFloor(dir: string): Promise<FloorState> {
  return readLsnFile(dir, FLOOR_FILE, decodeFloor);
}

/** The first LSN of the newest segment a writer created, from `<dir>/HEAD` (decodeHead). */
export function readHead(dir: string): Promise<LsnFileState> {
  return readLsnFile(dir, HEAD_FILE, decodeHead);
}

export type GapsState =
  | { readonly kind: 'valid'; readonly gaps: readonly LsnGap[] }
  | { readonly kind: 'damaged'; readonly reason: string };

/** The LSN ranges an earlier salvage recorded as lost, from `<dir>/GAPS` (none without one). */
export async function readGaps(dir: string): Promise<GapsState> {
  const path = join(dir, GAPS_FILE);
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    if (isNotFound(error)) return { kind: 'valid', gaps: [] };
    throw ioErrorFromNode(error, 'read', path);
  }
  try {
    return { kind: 'valid', gaps: decodeGaps(bytes, GAPS_FILE) };
  } catch (error) {
    if (!isWalError(error)) throw error;
    return { kind: 'damaged', reason: error.message };
  }
}
