import { WalError, WalErrorCode } from '@walnut/wal';
import { StreamErrorCode, streamError } from './errors.js';
import { type AppendFrame, appendOverhead, Op, type ProducerStamp } from './frame.js';
import { checkName } from './names.js';
import { type Offset, parseOffset } from './offsets.js';
import type { AppendOptions } from './streams-options.js';
import type { StreamState } from './table.js';

// The checks of an append's arguments, before anything is written.

/** The frame of an append to `stream` that passed every check of `options` and size. */
export function appendFrame(
  stream: StreamState,
  list: readonly Uint8Array[],
  producer: ProducerStamp | undefined,
  options: AppendOptions,
  maxRecordSize: number,
): AppendFrame {
  checkOpenAt(stream, options.expectedTail);
  const streamSeq = options.streamSeq;
  if (streamSeq !== undefined) checkStreamSeq(stream, streamSeq);
  const seqBytes = streamSeq === undefined ? 0 : 2 + Buffer.byteLength(streamSeq);
  checkSize(maxRecordSize, stream.name, producer, list, seqBytes);
  return {
    op: Op.APPEND,
    streamId: stream.id,
    firstOffset: stream.tail,
    producer,
    payloads: list as Buffer[],
    close: options.close === true,
    streamSeq,
  };
}

/** The stream takes appends, and its tail is `expectedTail` if one is given. */
export function checkOpenAt(stream: StreamState, expectedTail: Offset | undefined): void {
  const { name, tail } = stream;
  if (stream.closing) {
    throw streamError(
      StreamErrorCode.CLOSED,
      `stream "${name}" is closed and takes no more appends; create another stream`,
      { stream: name, tail },
    );
  }
  if (expectedTail === undefined) return;
  const expected = parseOffset(expectedTail);
  if (expected !== tail) {
    throw streamError(
      StreamErrorCode.OFFSET_MISMATCH,
      `stream "${name}" has tail ${tail}, not ${expected}; nothing was written: read what was appended since, then append with expectedTail ${tail}`,
      { stream: name, tail, expectedTail: expected },
    );
  }
}

/** A `streamSeq` must sort above the stream's last one (byte-wise, as the protocol compares). */
export function checkStreamSeq(stream: StreamState, seq: string): void {
  if (typeof seq !== 'string' || seq === '' || Buffer.byteLength(seq) > 1024) {
    throw new WalError(
      WalErrorCode.BAD_ARGUMENT,
      `streamSeq must be a non-empty string of at most 1024 UTF-8 bytes, got ${JSON.stringify(seq)}`,
    );
  }
  const last = stream.streamSeq;
  if (last !== undefined && Buffer.compare(Buffer.from(seq), Buffer.from(last)) <= 0) {
    throw streamError(
      StreamErrorCode.SEQ_CONFLICT,
      `streamSeq "${seq}" of stream "${stream.name}" does not sort above its last one, "${last}"; nothing was written: send an increasing streamSeq`,
      { stream: stream.name, streamSeq: seq, lastStreamSeq: last },
    );
  }
}

export function payloadList(payloads: Uint8Array | readonly Uint8Array[]): readonly Uint8Array[] {
  if (Buffer.isBuffer(payloads)) return [payloads];
  const list = payloads instanceof Uint8Array ? [payloads] : payloads;
  if (!Array.isArray(list) || list.length === 0) {
    throw new WalError(
      WalErrorCode.BAD_ARGUMENT,
      'append takes a Uint8Array or a non-empty array of them',
    );
  }
  for (const p of list) {
    if (!(p instanceof Uint8Array)) {
      throw new WalError(WalErrorCode.BAD_ARGUMENT, 'every payload must be a Uint8Array');
    }
  }
  return list.map((p) => (Buffer.isBuffer(p) ? p : Buffer.from(p.buffer, p.byteOffset, p.length)));
}

export function checkStamp(
  stamp: ProducerStamp | undefined,
  known: ReadonlyMap<string, unknown>,
): ProducerStamp | undefined {
  if (stamp === undefined) return undefined;
  // A producer the stream knows passed the check with its first append.
  if (!known.has(stamp.producerId)) checkName('producerId', stamp.producerId);
  for (const field of ['epoch', 'seq'] as const) {
    const value = stamp[field];
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new WalError(
        WalErrorCode.BAD_ARGUMENT,
        `producer ${field} must be a non-negative safe integer, got ${String(value)}`,
      );
    }
  }
  return { producerId: stamp.producerId, epoch: stamp.epoch, seq: stamp.seq };
}

/** WAL_STREAM_PAYLOAD_TOO_LARGE unless the append's record fits `maxRecordSize`. */
export function checkSize(
  maxRecordSize: number,
  name: string,
  producer: ProducerStamp | undefined,
  list: readonly Uint8Array[],
  extra: number,
) {
  let size =
    extra +
    appendOverhead(
      producer === undefined ? 0 : Buffer.byteLength(producer.producerId),
      list.length,
    );
  for (const p of list) size += p.length;
  if (size > maxRecordSize) {
    throw streamError(
      StreamErrorCode.PAYLOAD_TOO_LARGE,
      `an append to stream "${name}" of ${size} bytes exceeds maxRecordSize (${maxRecordSize}); split it over several appends or raise maxRecordSize`,
      { stream: name, bytes: size, maxRecordSize: maxRecordSize },
    );
  }
}
