import { StreamErrorCode, streamError } from './errors.js';
import type { ProducerStamp } from './frame.js';

/** What an append resolves with. */
export interface AppendResult {
  /** The offset of the append's first record. */
  readonly first: number;
  /** The stream's tail after the append: the offset of the next record. */
  readonly tail: number;
  /** True for a producer's retry of an append already in the stream: nothing was written. */
  readonly duplicate: boolean;
  /**
   * A producer's append: the highest seq the stream has taken from it in this epoch, above a
   * duplicate's own when more came since (the protocol's answer to a retry; kept in the log,
   * so the same after a restart).
   */
  readonly producerSeq?: number;
}

/**
 * How many recent appends of a producer keep their results, so that a retry of any of them
 * returns the original result (a producer with more in flight than this gets
 * WAL_STREAM_DUPLICATE_TOO_OLD for a retry beyond it, never a second copy).
 */
export const PRODUCER_WINDOW = 16;

export interface ProducerState {
  epoch: number;
  lastSeq: number;
  /** seq → the offsets of that append, and its acknowledgement (pending until the log's). */
  readonly results: Map<number, ProducedAppend>;
}

export interface ProducedAppend {
  readonly first: number;
  readonly tail: number;
  readonly acked: Promise<unknown>;
}

/**
 * Judges a producer's append by Kafka's and the Durable Streams protocol's rules: the
 * original result for a duplicate, `undefined` for an append to write, or a refusal.
 */
export function judgeProducer(
  stream: string,
  state: ProducerState | undefined,
  stamp: ProducerStamp,
): Promise<AppendResult> | undefined {
  const { producerId, epoch, seq } = stamp;
  if (state === undefined || epoch > state.epoch) {
    if (seq !== 0)
      throw gap(stream, stamp, 0, state === undefined ? 'a new producer' : 'a new epoch');
    return undefined;
  }
  if (epoch < state.epoch) {
    throw streamError(
      StreamErrorCode.PRODUCER_FENCED,
      `producer "${producerId}" of stream "${stream}" is at epoch ${state.epoch}, not ${epoch}: a newer instance took over; stop this one, or append with an epoch above ${state.epoch} from seq 0`,
      { producerId, epoch, currentEpoch: state.epoch },
    );
  }
  if (seq <= state.lastSeq) {
    const original = state.results.get(seq);
    if (original !== undefined) {
      const { first, tail } = original;
      return original.acked.then(() => ({
        first,
        tail,
        duplicate: true,
        producerSeq: state.lastSeq,
      }));
    }
    throw streamError(
      StreamErrorCode.DUPLICATE_TOO_OLD,
      `producer "${producerId}" seq ${seq} of stream "${stream}" was appended before, too long ago for its result to be kept (the last ${PRODUCER_WINDOW} are); nothing was written`,
      { producerId, epoch, seq, lastSeq: state.lastSeq },
    );
  }
  if (seq !== state.lastSeq + 1)
    throw gap(stream, stamp, state.lastSeq + 1, `seq ${state.lastSeq}`);
  return undefined;
}

/** Records an accepted append in the producer's state (replay and the live path alike). */
export function recordProducer(
  producers: Map<string, ProducerState>,
  stamp: ProducerStamp,
  produced: ProducedAppend,
): void {
  let state = producers.get(stamp.producerId);
  if (state === undefined || state.epoch !== stamp.epoch) {
    state = { epoch: stamp.epoch, lastSeq: stamp.seq, results: new Map() };
    producers.set(stamp.producerId, state);
  }
  state.lastSeq = stamp.seq;
  state.results.set(stamp.seq, produced);
  // A rejected append's acknowledgement is only awaited by its retries, which see the error.
  produced.acked.catch(() => {});
  if (state.results.size > PRODUCER_WINDOW) {
    state.results.delete(state.results.keys().next().value as number);
  }
}

function gap(stream: string, stamp: ProducerStamp, expected: number, after: string) {
  return streamError(
    StreamErrorCode.SEQUENCE_GAP,
    `producer "${stamp.producerId}" of stream "${stream}" sent seq ${stamp.seq} after ${after}: the next seq must be ${expected}; resend the appends from seq ${expected} in order`,
    { producerId: stamp.producerId, epoch: stamp.epoch, seq: stamp.seq, expectedSeq: expected },
  );
}
