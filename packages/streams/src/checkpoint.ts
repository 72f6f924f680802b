import { createHash } from 'node:crypto';
import { endianness } from 'node:os';
import type { ProducerImage, StreamConfig } from './frame.js';
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

interface StreamImage {
  id: number;
  createLsn: number;
  name: string;
  createdAt: number;
  config: StreamConfig;
  tail: number;
  bytes: number;
  closed: boolean;
  streamSeq?: string | undefined;
  touchedAt: number;
  /** How many index entries the stream has in the columns after the head. */
  entries: number;
  /** The bytes of the create's or image's record (version 3 on). */
  baseBytes: number;
  producers: ProducerImage[];
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
 * ~120,000 entries in one stream). An older checkpoint is ignored: open replays the log
 * instead, which rebuilds what it lacks.
 */
const VERSION = 4;

const DIGEST = 32;
const LITTLE_ENDIAN = endianness() === 'LE';

/**
 * The table as bytes (decision 0712): a SHA-256 of the rest, `u32` length of a JSON head
 * (every stream's state but its index), zeros to a multiple of 8, then for each stream in
 * the head's order its index as three `f64` columns, little-endian: starts, LSNs (far below
 * 2^53), sizes. Undefined while an index entry's LSN is not known yet (an acknowledgement
 * still settling).
 */
export function encodeCheckpoint(
  table: StreamTable,
  lsn: bigint,
  latest: number,
): Buffer | undefined {
  const streams: StreamImage[] = [];
  const kept: StreamState[] = [];
  let entries = 0;
  for (const s of table.all()) {
    if (s.known !== s.lsns.length || s.createLsn === 0n) return undefined;
    kept.push(s);
    entries += s.starts.length;
    streams.push({
      id: s.id,
      createLsn: Number(s.createLsn),
      name: s.name,
      createdAt: s.createdAt,
      config: s.config,
      tail: s.tail,
      bytes: s.bytes,
      closed: s.closing,
      streamSeq: s.streamSeq,
      touchedAt: s.touchedAt,
      entries: s.starts.length,
      baseBytes: s.baseBytes,
      producers: producerImages(s.producers),
    });
  }
  const head = Buffer.from(
    JSON.stringify({ version: VERSION, lsn: Number(lsn), latest, nextId: table.nextId, streams }),
  );
  const columnsAt = align8(DIGEST + 4 + head.length);
  // Its own ArrayBuffer (zeroed, never a pool's slice), so the columns lie 8-aligned.
  const out = Buffer.from(new ArrayBuffer(columnsAt + entries * 3 * 8));
  out.writeUInt32LE(head.length, DIGEST);
  head.copy(out, DIGEST + 4);
  const columns = new Float64Array(out.buffer, out.byteOffset + columnsAt, entries * 3);
  let at = 0;
  for (const s of kept) {
    for (const column of [s.starts, s.lsns, s.sizes]) {
      columns.set(column, at);
      at += column.length;
    }
  }
  if (!LITTLE_ENDIAN) out.subarray(columnsAt).swap64();
  digest(out.subarray(DIGEST)).copy(out, 0);
  return out;
}

/** The checkpoint in `bytes`, or undefined when they are damaged or of another version. */
export function decodeCheckpoint(bytes: Buffer, recordOverhead: number): Checkpoint | undefined {
  if (bytes.length < DIGEST + 4) return undefined;
  if (!digest(bytes.subarray(DIGEST)).equals(bytes.subarray(0, DIGEST))) return undefined;
  const headLength = bytes.readUInt32LE(DIGEST);
  const columnsAt = align8(DIGEST + 4 + headLength);
  if (columnsAt > bytes.length) return undefined;
  let image: {
    version: number;
    lsn: number;
    latest: number;
    nextId: number;
    streams: StreamImage[];
  };
  try {
    image = JSON.parse(bytes.toString('utf8', DIGEST + 4, DIGEST + 4 + headLength));
  } catch {
    return undefined; // not a head this version wrote
  }
  if (image.version !== VERSION) return undefined;
  const columns = float64s(bytes.subarray(columnsAt));
  const table = new StreamTable(recordOverhead);
  table.nextId = image.nextId;
  let at = 0;
  for (const s of image.streams) {
    const n = s.entries;
    const index = {
      starts: column(columns, at, n),
      lsns: column(columns, at + n, n),
      sizes: column(columns, at + 2 * n, n),
    };
    at += 3 * n;
    const stream: StreamState = newStream(s.id, s.name, s.createdAt, s.config, index);
    stream.createLsn = BigInt(s.createLsn);
    stream.tail = s.tail;
    stream.ackedTail = s.tail;
    stream.bytes = s.bytes;
    stream.closing = s.closed;
    stream.closed = s.closed;
    stream.streamSeq = s.streamSeq;
    stream.touchedAt = s.touchedAt;
    stream.baseBytes = s.baseBytes;
    stream.recordBytes = s.baseBytes;
    for (let i = 0; i < n; i++) stream.recordBytes += index.sizes[i]!;
    stream.known = n;
    restoreProducers(stream, s.producers);
    table.restore(stream);
  }
  if (at !== columns.length) return undefined;
  return { lsn: BigInt(image.lsn), latest: image.latest, table };
}

/**
 * `n` values of `columns` from `at`, as the plain array an index column is. Sized up front
 * and filled: a push per value grew each of a large log's arrays several times.
 */
function column(columns: Float64Array, at: number, n: number): number[] {
  const values = new Array<number>(n);
  for (let i = 0; i < n; i++) values[i] = columns[at + i]!;
  return values;
}

/** `f64` little-endian values: a view of `bytes` where it can be, or a copy. */
function float64s(bytes: Buffer): Float64Array {
  const count = Math.floor(bytes.length / 8);
  if (LITTLE_ENDIAN && bytes.byteOffset % 8 === 0) {
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

function digest(body: Buffer): Buffer {
  return createHash('sha256').update(body).digest();
}
