import { createHash } from 'node:crypto';
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
  starts: number[];
  lsns: number[];
  /** Since version 3: the bytes each entry's record takes, and the create's or image's. */
  sizes: number[];
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
 * records (decision 0717). An older checkpoint is ignored: open replays the log instead,
 * which rebuilds what it lacks.
 */
const VERSION = 3;

/**
 * The table as bytes: a digest, then JSON (LSNs stay far below 2^53). Undefined while an
 * index entry's LSN is not known yet (an acknowledgement still settling).
 */
export function encodeCheckpoint(
  table: StreamTable,
  lsn: bigint,
  latest: number,
): Buffer | undefined {
  const streams: StreamImage[] = [];
  for (const s of table.all()) {
    if (s.known !== s.lsns.length || s.createLsn === 0n) return undefined;
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
      starts: s.starts,
      lsns: s.lsns.map(Number),
      sizes: s.sizes,
      baseBytes: s.baseBytes,
      producers: producerImages(s.producers),
    });
  }
  const body = Buffer.from(
    JSON.stringify({ version: VERSION, lsn: Number(lsn), latest, nextId: table.nextId, streams }),
  );
  return Buffer.concat([digest(body), body]);
}

/** The checkpoint in `bytes`, or undefined when they are damaged or of another version. */
export function decodeCheckpoint(bytes: Buffer, recordOverhead: number): Checkpoint | undefined {
  const body = bytes.subarray(32);
  if (bytes.length < 32 || !digest(body).equals(bytes.subarray(0, 32))) return undefined;
  const image = JSON.parse(body.toString('utf8'));
  if (image.version !== VERSION) return undefined;
  const table = new StreamTable(recordOverhead);
  table.nextId = image.nextId;
  for (const s of image.streams as StreamImage[]) {
    const stream: StreamState = newStream(s.id, s.name, s.createdAt, s.config);
    stream.createLsn = BigInt(s.createLsn);
    stream.tail = s.tail;
    stream.ackedTail = s.tail;
    stream.bytes = s.bytes;
    stream.closing = s.closed;
    stream.closed = s.closed;
    stream.streamSeq = s.streamSeq;
    stream.touchedAt = s.touchedAt;
    stream.starts.push(...s.starts);
    stream.lsns.push(...s.lsns.map(BigInt));
    stream.sizes.push(...s.sizes);
    stream.baseBytes = s.baseBytes;
    stream.recordBytes = s.sizes.reduce((sum, size) => sum + size, s.baseBytes);
    stream.known = stream.lsns.length;
    restoreProducers(stream, s.producers);
    table.restore(stream);
  }
  return { lsn: BigInt(image.lsn), latest: image.latest, table };
}

function digest(body: Buffer): Buffer {
  return createHash('sha256').update(body).digest();
}
