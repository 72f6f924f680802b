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
  /** Log time of its last append: it is forgotten once idle for the streams' `producerTtlMs`. */
  lastAt: number;
  /** seq → the offsets of that append, and its acknowledgement (pending until the log's). */
  readonly results: Map<number, ProducedAppend>;
}

export interface ProducedAppend {
  readonly first: number;
  readonly tail: number;
  readonly acked: Promise<unknown>;
}

/** Whether `state` was idle for `ttlMs` by `now` (log clock): then the stream forgets it. */
export function isIdle(state: ProducerState, now: number, ttlMs: number): boolean {
  return now - state.lastAt >= ttlMs;
}

/**
 * Forgets the producers idle for `ttlMs` by `now`, as Kafka expires producer ids: their
 * state is what bounds the memory, checkpoints and images of a stream many producers use.
 */
export function forgetIdle(
  producers: Map<string, ProducerState>,
  now: number,
  ttlMs: number,
): void {
  for (const [id, state] of producers) if (isIdle(state, now, ttlMs)) producers.delete(id);
}

/**
 * Judges a producer's append by Kafka's and the Durable Streams protocol's rules: the
 * original result for a duplicate, `undefined` for an append to write, or a refusal. A
 * producer idle for `ttlMs` by `now` (log clock) is forgotten first, and judged as new.
 */
export function judgeProducer(
  stream: string,
  producers: Map<string, ProducerState>,
  stamp: ProducerStamp,
  now: number,
  ttlMs: number,
): Promise<AppendResult> | undefined {
  let state = producers.get(stamp.producerId);
  let idleMs: number | undefined;
  if (state === undefined) {
    // A new producer: forget the idle ones each time the stream's count reaches a power of
    // two, so a stream of many short-lived producers stays bounded between checkpoints.
    const size = producers.size;
    if (size >= 64 && (size & (size - 1)) === 0) forgetIdle(producers, now, ttlMs);
  } else if (isIdle(state, now, ttlMs)) {
    producers.delete(stamp.producerId);
    idleMs = now - state.lastAt;
    state = undefined;
  }
  const { producerId, epoch, seq } = stamp;
  if (state === undefined || epoch > state.epoch) {
    if (seq === 0) return undefined;
    if (idleMs !== undefined) throw forgottenGap(stream, stamp, idleMs, ttlMs);
    throw gap(stream, stamp, 0, state === undefined ? 'a new producer' : 'a new epoch');
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

/**
 * Records an accepted append in the producer's state (replay and the live path alike) at log
 * time `at`. Seq 0 is accepted only from a producer with no state to go on (new, in a new
 * epoch, or forgotten), so it starts afresh whatever the state replay has: replay need not
 * judge idleness again to agree with what the live path accepted.
 */
export function recordProducer(
  producers: Map<string, ProducerState>,
  stamp: ProducerStamp,
  produced: ProducedAppend,
  at: number,
): void {
  let state = producers.get(stamp.producerId);
  if (state === undefined || state.epoch !== stamp.epoch || stamp.seq === 0) {
    state = { epoch: stamp.epoch, lastSeq: stamp.seq, lastAt: at, results: new Map() };
    producers.set(stamp.producerId, state);
  }
  state.lastSeq = stamp.seq;
  state.lastAt = at;
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

function forgottenGap(stream: string, stamp: ProducerStamp, idleMs: number, ttlMs: number) {
  const { producerId, epoch, seq } = stamp;
  return streamError(
    StreamErrorCode.SEQUENCE_GAP,
    `producer "${producerId}" of stream "${stream}" was idle for ${idleMs} ms (producerTtlMs is ${ttlMs}), so the stream forgot it, and seq ${seq} follows nothing it knows; nothing was written: start again from seq 0 (read the stream first: a retry of an append from before it was forgotten may be in it already)`,
    { producerId, epoch, seq, expectedSeq: 0, idleMs },
  );
}
