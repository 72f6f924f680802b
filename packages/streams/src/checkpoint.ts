import { endianness } from 'node:os';
import { crc32c } from '@walnut/codec';
import type { ProducerImage, StreamConfig } from './frame.js';
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
 * the records after it (decision 0712). Taken only when no append is in flight, so every
 * index entry's LSN is known and every record up to `lsn` is applied.
 */
export interface Checkpoint {
  readonly lsn: bigint;
  readonly latest: number;
  readonly table: StreamTable;
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
 * instead of a SHA-256 (decision 0712). An older checkpoint is ignored: open replays the
 * log instead, which rebuilds what it lacks.
 */
const VERSION = 5;

/** `u32` CRC32C of the rest, `u32` version, `u32` head length, `u32` stream count. */
const PREFIX = 16;
const LITTLE_ENDIAN = endianness() === 'LE';

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
  nextId: number;
  names: string[];
  configs: [number, StreamConfig][];
  streamSeqs: [number, string][];
  producers: [number, ProducerImage[]][];
}

/**
 * The table as bytes (decision 0712): `u32` CRC32C of everything after it, `u32` version,
 * `u32` length of a JSON head (names, and the configs, `streamSeq`s and producers streams
 * have), `u32` stream count, the head, zeros to a multiple of 8, then little-endian `f64`s:
 * the stream table (`FIELDS` per stream), and for each stream in the table's order its
 * index's rows (`StreamIndex`: start, LSN, size). Undefined while an index
 * entry's LSN is not known yet (an acknowledgement still settling).
 */
export function encodeCheckpoint(
  table: StreamTable,
  lsn: bigint,
  latest: number,
): Buffer | undefined {
  const kept: StreamState[] = [];
  const head: Head = {
    lsn: Number(lsn),
    latest,
    nextId: table.nextId,
    names: [],
    configs: [],
    streamSeqs: [],
    producers: [],
  };
  let entries = 0;
  for (const s of table.all()) {
    if (s.known !== s.index.length || s.createLsn === 0n) return undefined;
    const at = kept.push(s) - 1;
    entries += s.index.length;
    head.names.push(s.name);
    if (Object.keys(s.config).length > 0) head.configs.push([at, s.config]);
    if (s.streamSeq !== undefined) head.streamSeqs.push([at, s.streamSeq]);
    if (s.producers.size > 0) head.producers.push([at, producerImages(s.producers)]);
  }
  const headBytes = Buffer.from(JSON.stringify(head));
  const tableAt = align8(PREFIX + headBytes.length);
  const values = kept.length * FIELDS.length + entries * ROW;
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
  for (const s of kept) {
    const rows = s.index.view();
    numbers.set(rows, at);
    at += rows.length;
  }
  if (!LITTLE_ENDIAN) out.subarray(tableAt).swap64();
  out.writeUInt32LE(crc32c(out.subarray(4)), 0);
  return out;
}

/**
 * The checkpoint in `bytes`, or undefined when they are damaged or of another version. The
 * streams' indexes are views of `bytes` where they can be (no copy at open), which the
 * table then writes to: nothing else may use them.
 */
export function decodeCheckpoint(bytes: Buffer, recordOverhead: number): Checkpoint | undefined {
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
  if (head.names.length !== count) return undefined;
  const numbers = float64s(bytes.subarray(tableAt));
  const configs = new Map(head.configs);
  const streamSeqs = new Map(head.streamSeqs);
  const producers = new Map(head.producers);
  const table = new StreamTable(recordOverhead);
  table.nextId = head.nextId;
  let at = count * FIELDS.length;
  for (let i = 0, f = 0; i < count; i++, f += FIELDS.length) {
    const n = numbers[f + AT.entries]!;
    if (at + ROW * n > numbers.length) return undefined;
    const index = new StreamIndex(numbers.subarray(at, at + ROW * n));
    at += ROW * n;
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
  if (at !== numbers.length) return undefined;
  return { lsn: BigInt(head.lsn), latest: head.latest, table };
}

/**
 * `f64` little-endian values: a view of `bytes` where it can be, or a copy (also of a
 * buffer that may be a slice of Node's shared pool, which the index must not write to).
 */
function float64s(bytes: Buffer): Float64Array {
  const count = Math.floor(bytes.length / 8);
  if (LITTLE_ENDIAN && bytes.byteOffset % 8 === 0 && bytes.buffer.byteLength > Buffer.poolSize) {
    return new Float64Array(bytes.buffer, bytes.byteOffset, count);
  }
  const values = new Float64Array(count);
  const view = Buffer.from(values.buffer);
  bytes.copy(view, 0, 0, view.length);
  if (!LITTLE_ENDIAN) view.swap64();
  return values;
}

function align8(n: number): number {
  return Math.ceil(n / 8) * 8;
}
