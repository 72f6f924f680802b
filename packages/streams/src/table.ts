import { type Frame, Op, type StreamConfig } from './frame.js';
import { type ProducerState, recordProducer } from './producers.js';

/** One incarnation of a stream: what a name means from its create to its delete. */
export interface StreamState {
  /** Never reused: a name created again after a delete or expiry gets a new id. */
  readonly id: number;
  /** The LSN of the create record (0n until it is acknowledged). */
  createLsn: bigint;
  readonly name: string;
  readonly createdAt: number;
  readonly config: StreamConfig;
  readonly expiresAt: number | undefined;
  /** The offset the next append gets (appends not yet acknowledged included). */
  tail: number;
  /** Records below it are acknowledged, and readable. */
  ackedTail: number;
  bytes: number;
  /** No append is taken any more (set when `close` is called). */
  closing: boolean;
  /** The close is acknowledged: readers see the end. */
  closed: boolean;
  deleted: boolean;
  /**
   * The per-stream index: the first offset of each of the stream's log records, ascending,
   * and the record's LSN (0n until its append is acknowledged).
   */
  readonly starts: number[];
  readonly lsns: bigint[];
  /** How many entries of `lsns` from the start are known. */
  known: number;
  readonly producers: Map<string, ProducerState>;
  /** The last `streamSeq` an append gave (kept in that append's record). */
  streamSeq: string | undefined;
  /** Log time of the last create, append or touch (the records keep it). */
  touchedAt: number;
  /** Settles once the create is acknowledged. */
  ready: Promise<void>;
  /** Tails waiting for this stream to change. */
  readonly waiters: Set<() => void>;
}

/**
 * Every stream of a log, rebuilt from the log's records at open and kept up to date by the
 * same `apply` as each call is made, so the live path and recovery cannot disagree.
 */
export class StreamTable {
  readonly byName = new Map<string, StreamState>();
  private readonly byId = new Map<number, StreamState>();
  /** The id the next create gets: above every id the log holds. */
  nextId = 1;

  get(id: number): StreamState | undefined {
    return this.byId.get(id);
  }

  /** Every stream, live or expired (a checkpoint keeps them all). */
  all(): IterableIterator<StreamState> {
    return this.byId.values();
  }

  /** Puts back a stream a checkpoint kept. */
  restore(stream: StreamState): void {
    this.byName.set(stream.name, stream);
    this.byId.set(stream.id, stream);
  }

  /**
   * Applies one frame. `lsn` is the record's LSN, or 0n while the live path waits for it
   * (`settle` then sets it); `time` is the record's time (the live path's clock);
   * `acked` settles with the append's acknowledgement, for its producer's retries.
   */
  apply(
    frame: Frame,
    lsn: bigint,
    time: number | undefined,
    acked?: Promise<unknown>,
  ): StreamState | undefined {
    if (frame.op === Op.CREATE) {
      const old = this.byName.get(frame.name);
      // A create over a live name only follows that incarnation's expiry: its data is gone.
      if (old !== undefined) this.remove(old);
      const stream = newStream(frame.streamId, frame.name, frame.createdAt, frame.config);
      stream.createLsn = lsn;
      this.byName.set(frame.name, stream);
      this.byId.set(stream.id, stream);
      this.nextId = Math.max(this.nextId, stream.id + 1);
      const entry = frame.payloads.length > 0 ? 0 : undefined;
      if (entry !== undefined) addRecords(stream, frame.payloads, lsn);
      if (frame.close) stream.closing = true;
      if (lsn !== 0n) settle(stream, frame, lsn, entry);
      return stream;
    }
    const stream = this.byId.get(frame.streamId);
    // Records of an incarnation that was deleted or replaced stay dead.
    if (stream === undefined) return undefined;
    if (frame.op === Op.APPEND) {
      const first = addRecords(stream, frame.payloads, lsn);
      if (frame.producer !== undefined) {
        recordProducer(stream.producers, frame.producer, {
          first,
          tail: stream.tail,
          acked: acked ?? ACKED,
        });
      }
      if (frame.streamSeq !== undefined) stream.streamSeq = frame.streamSeq;
      if (frame.close) stream.closing = true;
      if (time !== undefined) stream.touchedAt = Math.max(stream.touchedAt, time);
      if (lsn !== 0n) settle(stream, frame, lsn, stream.lsns.length - 1);
    } else if (frame.op === Op.TOUCH) {
      stream.touchedAt = Math.max(stream.touchedAt, frame.time);
    } else if (frame.op === Op.CLOSE) {
      stream.closing = true;
      if (lsn !== 0n) settle(stream, frame, lsn, undefined);
    } else {
      this.remove(stream);
    }
    return stream;
  }

  private remove(stream: StreamState): void {
    stream.deleted = true;
    this.byId.delete(stream.id);
    if (this.byName.get(stream.name) === stream) this.byName.delete(stream.name);
    wake(stream);
  }
}

const ACKED = Promise.resolve();

/** One index entry for a record holding `payloads`; returns the offset of the first. */
function addRecords(stream: StreamState, payloads: readonly Buffer[], lsn: bigint): number {
  const first = stream.tail;
  stream.starts.push(first);
  stream.lsns.push(lsn);
  stream.tail += payloads.length;
  for (const p of payloads) stream.bytes += p.length;
  return first;
}

/**
 * `frame`, applied before, is in the log at `lsn`: its records become readable and a close
 * it makes is seen, together (a reader never sees a closed stream without its last records).
 */
export function settle(
  stream: StreamState,
  frame: Frame,
  lsn: bigint,
  entry: number | undefined,
): void {
  if (frame.op === Op.CREATE) stream.createLsn = lsn;
  if (frame.op === Op.CLOSE || ((frame.op === Op.CREATE || frame.op === Op.APPEND) && frame.close))
    stream.closed = true;
  if (entry !== undefined) acknowledge(stream, entry, lsn);
  else wake(stream);
}

export function newStream(id: number, name: string, createdAt: number, config: StreamConfig) {
  const expiresAt =
    config.expiresAt ?? (config.ttlMs === undefined ? undefined : createdAt + config.ttlMs);
  const stream: StreamState = {
    id,
    createLsn: 0n,
    name,
    createdAt,
    config,
    expiresAt,
    tail: 0,
    ackedTail: 0,
    bytes: 0,
    closing: false,
    closed: false,
    deleted: false,
    streamSeq: undefined,
    touchedAt: createdAt,
    starts: [],
    lsns: [],
    known: 0,
    producers: new Map(),
    ready: Promise.resolve(),
    waiters: new Set(),
  };
  return stream;
}

/**
 * Index entry `index` is in the log at `lsn`. The readable part grows over the entries
 * known from the start only: the log acknowledges in LSN order, but this never trusts it.
 */
export function acknowledge(stream: StreamState, index: number, lsn: bigint): void {
  stream.lsns[index] = lsn;
  while (stream.known < stream.lsns.length && stream.lsns[stream.known] !== 0n) stream.known++;
  stream.ackedTail =
    stream.known < stream.starts.length ? stream.starts[stream.known]! : stream.tail;
  wake(stream);
}

export function wake(stream: StreamState): void {
  for (const waiter of stream.waiters) waiter();
  stream.waiters.clear();
}

export function isExpired(stream: StreamState, now: number): boolean {
  return stream.expiresAt !== undefined && now >= stream.expiresAt;
}
