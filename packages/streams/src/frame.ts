import { copyInto, putU32 } from '@walnut/codec';
import { WalError, WalErrorCode } from '@walnut/wal';

/**
 * How a streams operation sits inside one Wal record (README, "Format"; decision 0710).
 * Every record the package writes has type `STREAMS_RECORD_TYPE`; its payload starts with
 * the frame version and the operation. One call is one record, so one call is atomic: the
 * payloads of an append, its offsets and its producer state are written (or lost) together.
 */
export const STREAMS_RECORD_TYPE = 0x5354;
/**
 * Frames with flags (a create with its first records, an append that closes or carries a
 * stream seq, a touch) are version 2, so a reader of version 1 refuses them instead of
 * reading past what they add; the rest stay version 1 (decision 0715).
 */
const VERSION = 1;
const VERSION_FLAGS = 2;
const Flag = { CLOSE: 1, PAYLOADS: 2, STREAM_SEQ: 4 } as const;

export const Op = {
  CREATE: 1,
  APPEND: 2,
  CLOSE: 3,
  DELETE: 4,
  TOUCH: 5,
  IMAGE: 6,
  COPY: 7,
} as const;

export interface StreamConfig {
  /** A MIME type, kept and reported; the stream never looks into payloads. */
  readonly contentType?: string | undefined;
  /** The stream expires this long after its creation (log clock, ms). */
  readonly ttlMs?: number | undefined;
  /** The stream expires at this time (ms since the epoch, log clock). */
  readonly expiresAt?: number | undefined;
  /** Strings of your own, reported by `metadata`. */
  readonly metadata?: Readonly<Record<string, string>> | undefined;
}

export interface ProducerStamp {
  readonly producerId: string;
  readonly epoch: number;
  readonly seq: number;
}

export interface AppendFrame {
  op: typeof Op.APPEND;
  streamId: number;
  firstOffset: number;
  producer: ProducerStamp | undefined;
  payloads: Buffer[];
  /** The stream is closed by this append, after its records. */
  close: boolean;
  /** The writer's sequence token this append takes as the stream's last. */
  streamSeq: string | undefined;
}

export type Frame =
  | {
      op: typeof Op.CREATE;
      streamId: number;
      name: string;
      createdAt: number;
      config: StreamConfig;
      /** The stream's first records, written with its create (offsets from 0). */
      payloads: Buffer[];
      /** The stream is closed as it is created. */
      close: boolean;
    }
  | AppendFrame
  | { op: typeof Op.TOUCH; streamId: number; time: number }
  | { op: typeof Op.CLOSE | typeof Op.DELETE; streamId: number }
  /** A compaction's copy of a stream's state as of this record (decision 0717). */
  | { op: typeof Op.IMAGE; streamId: number; image: StreamImage }
  /** A compaction's copy of some of a stream's records, at their offsets (decision 0717). */
  | { op: typeof Op.COPY; streamId: number; entries: CopiedEntry[] };

/** A stream's state without its index: what replay of its records up to the image built. */
export interface StreamImage {
  readonly name: string;
  readonly createdAt: number;
  readonly config: StreamConfig;
  readonly tail: number;
  readonly bytes: number;
  readonly closed: boolean;
  readonly streamSeq: string | undefined;
  readonly touchedAt: number;
  readonly producers: ProducerImage[];
}

/**
 * A producer's state in an image or a checkpoint: `[producerId, epoch, lastSeq, [seq, first,
 * tail][], lastAt]`. `lastAt`, its last append's log time, came later: without it, the
 * stream's `touchedAt` stands in.
 */
export type ProducerImage = [string, number, number, [number, number, number][], number?];

/** One log record's payloads of a stream, copied: `start` is the offset of the first. */
export interface CopiedEntry {
  readonly start: number;
  readonly payloads: Buffer[];
}

/** Bytes of a copy frame before its entries. */
export const COPY_HEAD = 3 + 8;

/** Bytes an entry takes in a copy frame: never more than its append frame took. */
export function copiedEntrySize(payloads: readonly Buffer[]): number {
  return 8 + payloadsSize(payloads);
}

/** Bytes of an append frame before its payloads, without the producer id. */
export function appendOverhead(producerIdBytes: number, count: number, seqBytes = -1): number {
  return (
    3 +
    8 +
    8 +
    1 +
    (producerIdBytes > 0 ? 2 + producerIdBytes + 16 : 0) +
    (seqBytes >= 0 ? 2 + seqBytes : 0) +
    4 +
    4 * count
  );
}

export function encodeFrame(frame: Frame): Buffer {
  switch (frame.op) {
    case Op.CREATE: {
      const name = Buffer.from(frame.name);
      const config = Buffer.from(JSON.stringify(frame.config));
      const withPayloads = frame.payloads.length > 0;
      const size = 3 + 8 + 2 + name.length + 8 + 4 + config.length;
      const out = Buffer.allocUnsafe(size + (withPayloads ? payloadsSize(frame.payloads) : 0));
      let at = head(
        out,
        frame.op,
        (frame.close ? Flag.CLOSE : 0) | (withPayloads ? Flag.PAYLOADS : 0),
      );
      at = writeU64(out, frame.streamId, at);
      at = out.writeUInt16LE(name.length, at);
      at += name.copy(out, at);
      at = out.writeDoubleLE(frame.createdAt, at);
      at = out.writeUInt32LE(config.length, at);
      at += config.copy(out, at);
      if (withPayloads) writePayloads(out, at, frame.payloads);
      return out;
    }
    case Op.APPEND: {
      const pid = frame.producer === undefined ? undefined : Buffer.from(frame.producer.producerId);
      const seq = frame.streamSeq === undefined ? undefined : Buffer.from(frame.streamSeq);
      let size = appendOverhead(pid?.length ?? 0, frame.payloads.length, seq?.length ?? -1);
      for (const p of frame.payloads) size += p.length;
      const out = Buffer.allocUnsafe(size);
      const flags = (frame.close ? Flag.CLOSE : 0) | (seq === undefined ? 0 : Flag.STREAM_SEQ);
      let at = head(out, frame.op, flags);
      // Every field at a known place of a buffer sized above: direct stores, no Buffer
      // method's argument checks (an append's encoding is on W3's critical path).
      at = putU64(out, frame.streamId, at);
      at = putU64(out, frame.firstOffset, at);
      out[at++] = pid === undefined ? 0 : 1;
      if (pid !== undefined && frame.producer !== undefined) {
        at = putBytes(out, pid, putU16(out, pid.length, at));
        at = putU64(out, frame.producer.epoch, at);
        at = putU64(out, frame.producer.seq, at);
      }
      if (seq !== undefined) at = putBytes(out, seq, putU16(out, seq.length, at));
      writePayloads(out, at, frame.payloads);
      return out;
    }
    case Op.TOUCH: {
      const out = Buffer.allocUnsafe(3 + 8 + 8);
      const at = writeU64(out, frame.streamId, head(out, frame.op, 0, VERSION_FLAGS));
      out.writeDoubleLE(frame.time, at);
      return out;
    }
    case Op.IMAGE: {
      const json = Buffer.from(JSON.stringify(frame.image));
      const out = Buffer.allocUnsafe(3 + 8 + json.length);
      json.copy(out, writeU64(out, frame.streamId, head(out, frame.op, 0, VERSION_FLAGS)));
      return out;
    }
    case Op.COPY: {
      let size = COPY_HEAD;
      for (const e of frame.entries) size += copiedEntrySize(e.payloads);
      const out = Buffer.allocUnsafe(size);
      let at = writeU64(out, frame.streamId, head(out, frame.op, 0, VERSION_FLAGS));
      for (const e of frame.entries) {
        at = writeU64(out, e.start, at);
        at = writePayloads(out, at, e.payloads);
      }
      return out;
    }
    default: {
      const out = Buffer.allocUnsafe(3 + 8);
      writeU64(out, frame.streamId, head(out, frame.op));
      return out;
    }
  }
}

function head(out: Buffer, op: number, flags = 0, version = VERSION): number {
  out[0] = flags === 0 ? version : VERSION_FLAGS;
  out[1] = op;
  out[2] = flags;
  return 3;
}

export function payloadsSize(payloads: readonly Buffer[]): number {
  let size = 4 + 4 * payloads.length;
  for (const p of payloads) size += p.length;
  return size;
}

/** Writes the payloads' count, then each one's length and bytes, into room sized for them. */
function writePayloads(out: Buffer, from: number, payloads: readonly Buffer[]): number {
  putU32(out, from, payloads.length);
  let at = from + 4;
  for (const p of payloads) {
    putU32(out, at, p.length);
    at = putBytes(out, p, at + 4);
  }
  return at;
}

/** `bytes` at `at`, where the caller made room; returns the offset after them. */
function putBytes(out: Buffer, bytes: Uint8Array, at: number): number {
  copyInto(out, bytes, at);
  return at + bytes.length;
}

function putU16(out: Buffer, value: number, at: number): number {
  out[at] = value;
  out[at + 1] = value >>> 8;
  return at + 2;
}

/** `writeU64` by direct stores, into room the caller sized. */
function putU64(out: Buffer, value: number, at: number): number {
  putU32(out, at, value >>> 0);
  putU32(out, at + 4, Math.floor(value / 2 ** 32));
  return at + 8;
}

function readPayloads(bytes: Buffer, from: number): Buffer[] {
  return readPayloadsAt(bytes, from).payloads;
}

function readPayloadsAt(bytes: Buffer, from: number): { payloads: Buffer[]; end: number } {
  let at = from;
  const count = bytes.readUInt32LE(at);
  at += 4;
  const payloads: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const length = bytes.readUInt32LE(at);
    at += 4;
    if (at + length > bytes.length) throw new RangeError('payload past the frame');
    payloads.push(bytes.subarray(at, at + length));
    at += length;
  }
  return { payloads, end: at };
}

/** The frame of one of the log's records; WAL_NOT_A_LOG for a record the streams did not write. */
export function decodeRecord(record: { type: number; payload: Buffer; lsn: bigint }): Frame {
  if (record.type !== STREAMS_RECORD_TYPE) {
    throw new WalError(
      WalErrorCode.NOT_A_LOG,
      `record ${record.lsn} has type ${record.type}, not a streams record: this log was written by something else; open it with @walnut/wal`,
      { details: { lsn: record.lsn } },
    );
  }
  return decodeFrame(record.payload, record.lsn);
}

/**
 * The frame in a record's payload. The payloads handed back are views of `bytes`. A frame
 * this version does not know, or one that does not parse, is WAL_CORRUPT naming the LSN:
 * the log's CRC held, so a bad frame was written by something else than this package.
 */
export function decodeFrame(bytes: Buffer, lsn: bigint): Frame {
  try {
    if (bytes[0] !== VERSION && bytes[0] !== VERSION_FLAGS) {
      throw new Error(`frame version ${bytes[0]}`);
    }
    const op = bytes[1];
    const flags = bytes[2]!;
    const close = (flags & Flag.CLOSE) !== 0;
    let at = 3;
    if (op === Op.CREATE) {
      const streamId = readU64(bytes, at);
      at += 8;
      const nameLength = bytes.readUInt16LE(at);
      at += 2;
      const name = bytes.toString('utf8', at, at + nameLength);
      at += nameLength;
      const createdAt = bytes.readDoubleLE(at);
      at += 8;
      const configLength = bytes.readUInt32LE(at);
      at += 4;
      const config = JSON.parse(bytes.toString('utf8', at, at + configLength)) as StreamConfig;
      at += configLength;
      const payloads = (flags & Flag.PAYLOADS) !== 0 ? readPayloads(bytes, at) : [];
      return { op, streamId, name, createdAt, config, payloads, close };
    }
    if (op === Op.APPEND) {
      const streamId = readU64(bytes, at);
      const firstOffset = readU64(bytes, at + 8);
      const hasProducer = bytes.readUInt8(at + 16);
      at += 17;
      let producer: ProducerStamp | undefined;
      if (hasProducer === 1) {
        const length = bytes.readUInt16LE(at);
        const producerId = bytes.toString('utf8', at + 2, at + 2 + length);
        at += 2 + length;
        const epoch = readU64(bytes, at);
        const seq = readU64(bytes, at + 8);
        at += 16;
        producer = { producerId, epoch, seq };
      }
      let streamSeq: string | undefined;
      if ((flags & Flag.STREAM_SEQ) !== 0) {
        const length = bytes.readUInt16LE(at);
        streamSeq = bytes.toString('utf8', at + 2, at + 2 + length);
        at += 2 + length;
      }
      const payloads = readPayloads(bytes, at);
      return { op, streamId, firstOffset, producer, payloads, close, streamSeq };
    }
    if (op === Op.TOUCH) {
      return { op, streamId: readU64(bytes, at), time: bytes.readDoubleLE(at + 8) };
    }
    if (op === Op.CLOSE || op === Op.DELETE) return { op, streamId: readU64(bytes, at) };
    if (op === Op.IMAGE) {
      const image = JSON.parse(bytes.toString('utf8', at + 8)) as StreamImage;
      return { op, streamId: readU64(bytes, at), image };
    }
    if (op === Op.COPY) {
      const streamId = readU64(bytes, at);
      const entries: CopiedEntry[] = [];
      for (at += 8; at < bytes.length; ) {
        const start = readU64(bytes, at);
        const read = readPayloadsAt(bytes, at + 8);
        entries.push({ start, payloads: read.payloads });
        at = read.end;
      }
      return { op, streamId, entries };
    }
    throw new Error(`operation ${op}`);
  } catch (error) {
    throw new WalError(
      WalErrorCode.CORRUPT,
      `record ${lsn} is no streams frame this version reads (${(error as Error).message}); the log holds records another program wrote: open it with @walnut/wal instead`,
      { cause: error, details: { lsn } },
    );
  }
}

/**
 * A `u64` field of a safe integer (ids, offsets, epochs, seqs), as two `u32` halves: the
 * same bytes as `writeBigUInt64LE`, without a BigInt per field on the append path.
 */
function writeU64(out: Buffer, value: number, at: number): number {
  out.writeUInt32LE(value >>> 0, at);
  return out.writeUInt32LE(Math.floor(value / 2 ** 32), at + 4);
}

function readU64(bytes: Buffer, at: number): number {
  return bytes.readUInt32LE(at) + bytes.readUInt32LE(at + 4) * 2 ** 32;
}
