import { crc32c } from '@walnut/codec';
import { float64s, LITTLE_ENDIAN } from './little-endian.js';
import { ROW } from './stream-index.js';

/**
 * The index rows file (decision 0720): every stream's index rows, beside the checkpoint
 * that names it. Written whole (a new generation, under the name the last one does not
 * use) or grown by a chunk at each checkpoint, holding the rows added since the last one.
 *
 * Layout, little-endian: a head of 16 bytes (`u32` CRC32C of the next 12, `u32` version,
 * `f64` generation), then chunks. A chunk is a head of 16 bytes (`u32` CRC32C of the rest
 * of the chunk, `u32` body bytes, `u32` run count, `u32` zero) and a body of runs, each
 * `f64`s: stream id, the stream's entry the run starts at, its row count, then the rows
 * (`ROW` numbers each). Every size is a multiple of 8, so chunks and rows lie 8-aligned.
 */
export const ROWS_FILES = ['streams.rows.0', 'streams.rows.1'] as const;

/** The rows file of `generation`: they alternate, so a new one never replaces the one in use. */
export function rowsFileName(generation: number): string {
  return ROWS_FILES[generation % 2]!;
}

const VERSION = 1;
export const ROWS_FILE_HEAD = 16;
const CHUNK_HEAD = 16;
/** Numbers before a run's rows: stream id, first entry, row count. */
const RUN_HEAD = 3;
/** A chunk body's size at most: a reader holds a chunk whole, and this bounds its window. */
export const MAX_CHUNK_BODY = 4 * 1024 * 1024;
/** What a reader reads at a time (a whole chunk always fits). */
const WINDOW = 16 * (CHUNK_HEAD + MAX_CHUNK_BODY);

/** Rows of one stream, from its entry `first` on. */
export interface RowsRun {
  readonly id: number;
  readonly first: number;
  readonly rows: Float64Array;
}

/** The head of a rows file of `generation`. */
export function encodeRowsHead(generation: number): Buffer {
  const head = Buffer.alloc(ROWS_FILE_HEAD);
  head.writeUInt32LE(VERSION, 4);
  head.writeDoubleLE(generation, 8);
  head.writeUInt32LE(crc32c(head.subarray(4)), 0);
  return head;
}

/** The generation a rows file's head names, or undefined when it is not one this version wrote. */
export function decodeRowsHead(head: Buffer): number | undefined {
  if (head.length < ROWS_FILE_HEAD || head.readUInt32LE(4) !== VERSION) return undefined;
  if (crc32c(head.subarray(4, ROWS_FILE_HEAD)) !== head.readUInt32LE(0)) return undefined;
  return head.readDoubleLE(8);
}

/** Rows a run piece holds at most, so that it fits a chunk body with its head. */
const PIECE_ROWS = Math.floor((MAX_CHUNK_BODY / 8 - RUN_HEAD) / ROW);

/**
 * `runs` as chunks of at most `MAX_CHUNK_BODY` (a run that does not fit is split, its
 * pieces starting at later entries); an empty buffer for no rows. Sized first and written
 * in place: a checkpoint encodes a run per stream appended to since the last one.
 */
export function encodeRowsChunks(runs: readonly RowsRun[]): Buffer {
  let total = 0;
  let body = -1;
  forEachPiece(runs, (_run, _from, count) => {
    const size = (RUN_HEAD + count * ROW) * 8;
    if (body < 0 || body + size > MAX_CHUNK_BODY) {
      total += CHUNK_HEAD;
      body = 0;
    }
    body += size;
    total += size;
  });
  const out = Buffer.from(new ArrayBuffer(total));
  const numbers = new Float64Array(out.buffer);
  let start = -1;
  let at = 0;
  let pieces = 0;
  const close = () => {
    if (start < 0) return;
    const chunk = out.subarray(start, at);
    if (!LITTLE_ENDIAN) chunk.subarray(CHUNK_HEAD).swap64();
    chunk.writeUInt32LE(at - start - CHUNK_HEAD, 4);
    chunk.writeUInt32LE(pieces, 8);
    chunk.writeUInt32LE(crc32c(chunk.subarray(4)), 0);
  };
  forEachPiece(runs, (run, from, count) => {
    const size = (RUN_HEAD + count * ROW) * 8;
    if (start < 0 || at - start - CHUNK_HEAD + size > MAX_CHUNK_BODY) {
      close();
      start = at;
      at += CHUNK_HEAD;
      pieces = 0;
    }
    let i = at / 8;
    numbers[i++] = run.id;
    numbers[i++] = run.first + from;
    numbers[i++] = count;
    const rows = run.rows;
    for (let r = from * ROW, end = (from + count) * ROW; r < end; ) numbers[i++] = rows[r++]!;
    at += size;
    pieces++;
  });
  close();
  return out;
}

/** Calls `visit` with each piece of `runs`: rows `from` to `from + count` of a run. */
function forEachPiece(
  runs: readonly RowsRun[],
  visit: (run: RowsRun, from: number, count: number) => void,
): void {
  for (const run of runs) {
    const rows = run.rows.length / ROW;
    for (let from = 0; from < rows; from += PIECE_ROWS) {
      visit(run, from, Math.min(PIECE_ROWS, rows - from));
    }
  }
}

/**
 * Reads `length` bytes of the rows file from `offset` (fewer where it ends), in memory of
 * their own (never a slice of a shared pool): the rows a run hands over are views of it.
 */
export type ReadRows = (offset: number, length: number) => Promise<Buffer | undefined>;

/**
 * Takes one run: stream `id`'s `count` rows from its entry `first` on, at `numbers[from..]`,
 * a view of what `ReadRows` read (which may be kept); false refuses it. Positional, not a
 * `RowsRun`: an open reads a run per stream and checkpoint.
 */
export type TakeRun = (
  id: number,
  first: number,
  numbers: Float64Array,
  from: number,
  count: number,
) => boolean;

/** What `readRowsFile` read: rows and runs, those of deleted streams included. */
export interface RowsRead {
  readonly rows: number;
  readonly runs: number;
}

/**
 * Hands every run of the rows file's first `length` bytes to `take`, in file order, once
 * the file's head names `generation`; resolves with the rows and runs read, or undefined
 * when the file is missing, of another generation, damaged or shorter than `length`, or
 * `take` refused a run.
 */
export async function readRowsFile(
  read: ReadRows,
  generation: number,
  length: number,
  take: TakeRun,
): Promise<RowsRead | undefined> {
  const head = await read(0, ROWS_FILE_HEAD);
  if (head === undefined || decodeRowsHead(head) !== generation) return undefined;
  const counts = { rows: 0, runs: 0 };
  let offset = ROWS_FILE_HEAD;
  while (offset < length) {
    const window = await read(offset, Math.min(WINDOW, length - offset));
    if (window === undefined) return undefined;
    let at = 0;
    while (at + CHUNK_HEAD <= window.length) {
      const body = window.readUInt32LE(at + 4);
      if (body > MAX_CHUNK_BODY || body % 8 !== 0) return undefined;
      if (at + CHUNK_HEAD + body > window.length) break;
      const end = at + CHUNK_HEAD + body;
      if (window.readUInt32LE(at) !== crc32c(window.subarray(at + 4, end))) return undefined;
      const runs = window.readUInt32LE(at + 8);
      if (!readChunk(window, at + CHUNK_HEAD, end, runs, take, counts)) return undefined;
      at = end;
    }
    if (at === 0) return undefined; // not even one whole chunk: the file ends short
    offset += at;
  }
  return offset === length ? counts : undefined;
}

/** The runs of one chunk body `window[at..end)`, counted into `counts`; false if refused. */
function readChunk(
  window: Buffer,
  at: number,
  end: number,
  runs: number,
  take: TakeRun,
  counts: { rows: number; runs: number },
): boolean {
  const numbers = float64s(window, at, (end - at) / 8);
  let i = 0;
  for (let r = 0; r < runs; r++) {
    if (i + RUN_HEAD > numbers.length) return false;
    const count = numbers[i + 2]!;
    const last = i + RUN_HEAD + count * ROW;
    if (!Number.isInteger(count) || count < 0 || last > numbers.length) return false;
    if (!take(numbers[i]!, numbers[i + 1]!, numbers, i + RUN_HEAD, count)) return false;
    counts.rows += count;
    i = last;
  }
  counts.runs += runs;
  return i === numbers.length;
}
