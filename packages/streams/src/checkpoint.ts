import { crc32c } from '@walnut/codec';
import type { ProducerImage, StreamConfig } from './frame.js';
import type { RowsRef } from './index-rows.js';
import { float64s, LITTLE_ENDIAN } from './little-endian.js';
import { type RowsRead, readRowsFile, rowsFileName } from './rows-file.js';
import { ROW, StreamIndex } from './stream-index.js';
import {
  newStream,
  producerImages,
  restoreProducers,
  type StreamState,
  StreamTable,
} from './table.js';

/**
 * The index checkpoint: every stream's state as of log record `lsn`, so open replays only
 * the records after it (decision 0712), and the index rows file it stands on (`rows`;
 * decision 0720). Taken only when no append is in flight, so every index entry's LSN is
 * known and every record up to `lsn` is applied.
 */
export interface Checkpoint {
  readonly lsn: bigint;
  readonly latest: number;
  readonly table: StreamTable;
  readonly rows: RowsRef;
}

/**
 * The checkpoint's side file in the log directory, replaced whole by the log's own
 * atomic small-file write (`Wal.writeSideFile`: temporary file, fsync, rename, directory
 * fsync), so a crash leaves the old checkpoint or the new one, never a mix.
 */
export const CHECKPOINT_FILE = 'streams.checkpoint';

/**
 * Version 2 added each stream's `streamSeq` and `touchedAt`, version 3 the bytes of its
 * records (decision 0717), version 4 moved the index out of the JSON into binary columns
 * (a JSON index of a million entries took 0.3 s to parse and overflowed `push(...)` past
 * ~120,000 entries in one stream), version 5 every stream's numbers too, behind a CRC32C
 * instead of a SHA-256 (decision 0712), version 6 moved the index rows to a file of their
 * own that grows by what each checkpoint adds (decision 0720). An older checkpoint is
 * ignored: open replays the log instead, which rebuilds what it lacks.
 */
const VERSION = 6;

/** `u32` CRC32C of the rest, `u32` version, `u32` head length, `u32` stream count. */
const PREFIX = 16;

/** A stream's numbers in the stream table, in this order. */
const FIELDS = [
  'id',
  'createLsn',
  'createdAt',
  'tail',
  'bytes',
  'closed',
  'touchedAt',
  'entries',
  'baseBytes',
  'recordBytes',
] as const;
/** Where each of `FIELDS` is in a stream's row of the table. */
const AT = Object.fromEntries(FIELDS.map((field, i) => [field, i])) as Record<
  (typeof FIELDS)[number],
  number
>;

/**
 * What the numbers leave out, by each stream's place in the table; only streams that have
 * them are listed (most have no config, `streamSeq` or producer).
 */
interface Head {
  lsn: number;
  latest: number;
  rows: RowsRef;
  nextId: number;
  names: string[];
  configs: [number, StreamConfig][];
  streamSeqs: [number, string][];
  producers: [number, ProducerImage[]][];
}

/**
 * The table as bytes (decisions 0712, 0720): `u32` CRC32C of everything after it, `u32`
 * version, `u32` length of a JSON head (the rows file, names, and the configs,
 * `streamSeq`s and producers streams have), `u32` stream count, the head, zeros to a
 * multiple of 8, then the stream table as little-endian `f64`s (`FIELDS` per stream; the
 * index rows are in the rows file). Undefined while an index entry's LSN is not known yet
 * (an acknowledgement still settling).
 */
export function encodeCheckpoint(
  table: StreamTable,
  lsn: bigint,
  latest: number,
  rows: RowsRef,
): Buffer | undefined {
  const kept: StreamState[] = [];
  const head: Head = {
    lsn: Number(lsn),
    latest,
    rows,
    nextId: table.nextId,
    names: [],
    configs: [],
    streamSeqs: [],
    producers: [],
  };
  for (const s of table.all()) {
    if (s.known !== s.index.length || s.createLsn === 0n) return undefined;
    const at = kept.push(s) - 1;
    head.names.push(s.name);
    if (Object.keys(s.config).length > 0) head.configs.push([at, s.config]);
    if (s.streamSeq !== undefined) head.streamSeqs.push([at, s.streamSeq]);
    if (s.producers.size > 0) head.producers.push([at, producerImages(s.producers)]);
  }
  const headBytes = Buffer.from(JSON.stringify(head));
  const tableAt = align8(PREFIX + headBytes.length);
  const values = kept.length * FIELDS.length;
  // Its own ArrayBuffer (zeroed, never a pool's slice), so the numbers lie 8-aligned.
  const out = Buffer.from(new ArrayBuffer(tableAt + values * 8));
  out.writeUInt32LE(VERSION, 4);
  out.writeUInt32LE(headBytes.length, 8);
  out.writeUInt32LE(kept.length, 12);
  headBytes.copy(out, PREFIX);
  const numbers = new Float64Array(out.buffer, out.byteOffset + tableAt, values);
  let at = 0;
  for (const s of kept) {
    numbers[at + AT.id] = s.id;
    numbers[at + AT.createLsn] = Number(s.createLsn);
    numbers[at + AT.createdAt] = s.createdAt;
    numbers[at + AT.tail] = s.tail;
    numbers[at + AT.bytes] = s.bytes;
    numbers[at + AT.closed] = s.closing ? 1 : 0;
    numbers[at + AT.touchedAt] = s.touchedAt;
    numbers[at + AT.entries] = s.index.length;
    numbers[at + AT.baseBytes] = s.baseBytes;
    numbers[at + AT.recordBytes] = s.recordBytes;
    at += FIELDS.length;
  }
  if (!LITTLE_ENDIAN) out.subarray(tableAt).swap64();
  out.writeUInt32LE(crc32c(out.subarray(4)), 0);
  return out;
}

/**
 * The checkpoint in `bytes`, its streams' indexes read from the rows file it names through
 * `readRows`; undefined when either is damaged, of another version or generation, or the
 * rows file does not hold exactly each stream's entries.
 */
export async function loadCheckpoint(
  bytes: Buffer,
  recordOverhead: number,
  readRows: (name: string, offset: number, length: number) => Promise<Buffer | undefined>,
): Promise<(Checkpoint & { readonly inFile: RowsRead; readonly pieced: boolean }) | undefined> {
  const checkpoint = decodeCheckpoint(bytes, recordOverhead);
  if (checkpoint === undefined) return undefined;
  const { table, rows } = checkpoint;
  const name = rowsFileName(rows.generation);
  const read = (offset: number, length: number) => readRows(name, offset, length);
  let pieced = false;
  let entries = 0;
  for (const s of table.all()) entries += s.index.flushed;
  let room: Float64Array | undefined;
  let roomAt = 0;
  const inFile = await readRowsFile(
    read,
    rows.generation,
    rows.length,
    (id, first, numbers, from, count) => {
      const index = table.get(id)?.index;
      if (index === undefined) return true; // a stream deleted since: its rows are dead
      if (first !== index.length || first + count > index.flushed) return false;
      // A stream not appended to since the file was last written whole lies in one run.
      if (first === 0 && count === index.flushed)
        index.adopt(numbers.subarray(from, from + count * ROW));
      else {
        if (first === 0) {
          // Every stream's pieces are copied into one array, made when the first is met.
          room ??= new Float64Array(entries * ROW);
          index.fillInto(room.subarray(roomAt, roomAt + index.flushed * ROW));
          roomAt += index.flushed * ROW;
        }
        index.pushRows(numbers, from, count);
        pieced = true;
      }
      return true;
    },
  );
  if (inFile === undefined) return undefined;
  for (const s of table.all()) if (s.index.length !== s.index.flushed) return undefined;
  return { ...checkpoint, inFile, pieced };
}

/**
 * The checkpoint in `bytes`, its streams' indexes empty, each knowing the entries the rows
 * file must hold of it (`flushed`); undefined when damaged.
 */
function decodeCheckpoint(bytes: Buffer, recordOverhead: number): Checkpoint | undefined {
  if (bytes.length < PREFIX || bytes.readUInt32LE(4) !== VERSION) return undefined;
  if (crc32c(bytes.subarray(4)) !== bytes.readUInt32LE(0)) return undefined;
  const headLength = bytes.readUInt32LE(8);
  const count = bytes.readUInt32LE(12);
  const tableAt = align8(PREFIX + headLength);
  if (tableAt + count * FIELDS.length * 8 > bytes.length) return undefined;
  let head: Head;
  try {
    head = JSON.parse(bytes.toString('utf8', PREFIX, PREFIX + headLength));
  } catch {
    return undefined; // not a head this version wrote
  }
  if (head.names.length !== count || !isRowsRef(head.rows)) return undefined;
  const numbers = float64s(bytes, tableAt, Math.floor((bytes.length - tableAt) / 8));
  const configs = new Map(head.configs);
  const streamSeqs = new Map(head.streamSeqs);
  const producers = new Map(head.producers);
  const table = new StreamTable(recordOverhead);
  table.nextId = head.nextId;
  if (numbers.length !== count * FIELDS.length) return undefined;
  for (let i = 0, f = 0; i < count; i++, f += FIELDS.length) {
    const n = numbers[f + AT.entries]!;
    if (!Number.isSafeInteger(n) || n < 0) return undefined;
    // Filled from the rows file; `flushed` is what it must hold of the stream.
    const index = new StreamIndex();
    index.flushed = n;
    const createdAt = numbers[f + AT.createdAt]!;
    const stream = newStream(
      numbers[f + AT.id]!,
      head.names[i]!,
      createdAt,
      configs.get(i) ?? {},
      index,
    );
    stream.createLsn = BigInt(numbers[f + AT.createLsn]!);
    stream.tail = numbers[f + AT.tail]!;
    stream.ackedTail = stream.tail;
    stream.bytes = numbers[f + AT.bytes]!;
    stream.closing = numbers[f + AT.closed] === 1;
    stream.closed = stream.closing;
    stream.streamSeq = streamSeqs.get(i);
    stream.touchedAt = numbers[f + AT.touchedAt]!;
    stream.baseBytes = numbers[f + AT.baseBytes]!;
    stream.recordBytes = numbers[f + AT.recordBytes]!;
    stream.known = n;
    restoreProducers(stream, producers.get(i) ?? []);
    table.restore(stream);
  }
  return { lsn: BigInt(head.lsn), latest: head.latest, table, rows: head.rows };
}

function isRowsRef(ref: unknown): ref is RowsRef {
  const { generation, length } = (ref ?? {}) as Partial<RowsRef>;
  return Number.isSafeInteger(generation) && Number.isSafeInteger(length);
}

function align8(n: number): number {
  return Math.ceil(n / 8) * 8;
}
