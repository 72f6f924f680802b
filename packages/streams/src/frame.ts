import { WalError, WalErrorCode } from '@walnut/wal';

/**
 * How a streams operation sits inside one Wal record (README, "Format"; decision 0710).
 * Every record the package writes has type `STREAMS_RECORD_TYPE`; its payload starts with
 * the frame version and the operation. One call is one record, so one call is atomic: the
 * payloads of an append, its offsets and its producer state are written (or lost) together.
 */
export const STREAMS_RECORD_TYPE = 0x5354;
const VERSION = 1;

export const Op = { CREATE: 1, APPEND: 2, CLOSE: 3, DELETE: 4 } as const;

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

export type Frame =
  | {
      op: typeof Op.CREATE;
      streamId: number;
      name: string;
      createdAt: number;
      config: StreamConfig;
    }
  | {
      op: typeof Op.APPEND;
      streamId: number;
      firstOffset: number;
      producer: ProducerStamp | undefined;
      payloads: Buffer[];
    }
  | { op: typeof Op.CLOSE | typeof Op.DELETE; streamId: number };

/** Bytes of an append frame before its payloads, without the producer id. */
export function appendOverhead(producerIdBytes: number, count: number): number {
  return 3 + 8 + 8 + 1 + (producerIdBytes > 0 ? 2 + producerIdBytes + 16 : 0) + 4 + 4 * count;
}

export function encodeFrame(frame: Frame): Buffer {
  switch (frame.op) {
    case Op.CREATE: {
      const name = Buffer.from(frame.name);
      const config = Buffer.from(JSON.stringify(frame.config));
      const out = Buffer.allocUnsafe(3 + 8 + 2 + name.length + 8 + 4 + config.length);
      let at = head(out, frame.op);
      at = out.writeBigUInt64LE(BigInt(frame.streamId), at);
      at = out.writeUInt16LE(name.length, at);
      at += name.copy(out, at);
      at = out.writeDoubleLE(frame.createdAt, at);
      at = out.writeUInt32LE(config.length, at);
      config.copy(out, at);
      return out;
    }
    case Op.APPEND: {
      const pid = frame.producer === undefined ? undefined : Buffer.from(frame.producer.producerId);
      let size = appendOverhead(pid?.length ?? 0, frame.payloads.length);
      for (const p of frame.payloads) size += p.length;
      const out = Buffer.allocUnsafe(size);
      let at = head(out, frame.op);
      at = out.writeBigUInt64LE(BigInt(frame.streamId), at);
      at = out.writeBigUInt64LE(BigInt(frame.firstOffset), at);
      at = out.writeUInt8(pid === undefined ? 0 : 1, at);
      if (pid !== undefined && frame.producer !== undefined) {
        at = out.writeUInt16LE(pid.length, at);
        at += pid.copy(out, at);
        at = out.writeBigUInt64LE(BigInt(frame.producer.epoch), at);
        at = out.writeBigUInt64LE(BigInt(frame.producer.seq), at);
      }
      at = out.writeUInt32LE(frame.payloads.length, at);
      for (const p of frame.payloads) {
        at = out.writeUInt32LE(p.length, at);
        at += p.copy(out, at);
      }
      return out;
    }
    default: {
      const out = Buffer.allocUnsafe(3 + 8);
      out.writeBigUInt64LE(BigInt(frame.streamId), head(out, frame.op));
      return out;
    }
  }
}

function head(out: Buffer, op: number): number {
  out[0] = VERSION;
  out[1] = op;
  out[2] = 0;
  return 3;
}

/**
 * The frame in a record's payload. The payloads handed back are views of `bytes`. A frame
 * this version does not know, or one that does not parse, is WAL_CORRUPT naming the LSN:
 * the log's CRC held, so a bad frame was written by something else than this package.
 */
export function decodeFrame(bytes: Buffer, lsn: bigint): Frame {
  try {
    if (bytes[0] !== VERSION) throw new Error(`frame version ${bytes[0]}`);
    const op = bytes[1];
    let at = 3;
    if (op === Op.CREATE) {
      const streamId = Number(bytes.readBigUInt64LE(at));
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
      return { op, streamId, name, createdAt, config };
    }
    if (op === Op.APPEND) {
      const streamId = Number(bytes.readBigUInt64LE(at));
      const firstOffset = Number(bytes.readBigUInt64LE(at + 8));
      const hasProducer = bytes.readUInt8(at + 16);
      at += 17;
      let producer: ProducerStamp | undefined;
      if (hasProducer === 1) {
        const length = bytes.readUInt16LE(at);
        const producerId = bytes.toString('utf8', at + 2, at + 2 + length);
        at += 2 + length;
        const epoch = Number(bytes.readBigUInt64LE(at));
        const seq = Number(bytes.readBigUInt64LE(at + 8));
        at += 16;
        producer = { producerId, epoch, seq };
      }
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
      return { op, streamId, firstOffset, producer, payloads };
    }
    if (op === Op.CLOSE || op === Op.DELETE)
      return { op, streamId: Number(bytes.readBigUInt64LE(at)) };
    throw new Error(`operation ${op}`);
  } catch (error) {
    throw new WalError(
      WalErrorCode.CORRUPT,
      `record ${lsn} is no streams frame this version reads (${(error as Error).message}); the log holds records another program wrote: open it with @walnut/wal instead`,
      { cause: error, details: { lsn } },
    );
  }
}
