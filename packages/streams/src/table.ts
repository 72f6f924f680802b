import {
  type AppendFrame,
  COPY_HEAD,
  type CopiedEntry,
  copiedEntrySize,
  type Frame,
  Op,
  type ProducerImage,
  payloadsSize,
  type StreamConfig,
  type StreamImage,
} from './frame.js';
import { forgetIdle, PRODUCER_WINDOW, type ProducerState, recordProducer } from './producers.js';
import { StreamIndex } from './stream-index.js';
import type { StreamInfo } from './streams-options.js';

/**
 * Bytes a record takes in the log beyond its streams frame: the frame and record headers
 * with the record's time (FORMAT.md, 24), and an encrypted frame's nonce and tag (32 more).
 */
export const RECORD_OVERHEAD = 24;
export const ENCRYPTED_OVERHEAD = RECORD_OVERHEAD + 32;

/** Where one of a stream's log records is, found while replaying (decision 0717). */
interface IndexEntry {
  readonly start: number;
  /** A number: an index holds millions, and LSNs stay far below 2^53. */
  readonly lsn: number;
  readonly size: number;
}

/** One incarnation of a stream: what a name means from its create to its delete. */
export interface StreamState {
  /** Never reused: a name created again after a delete or expiry gets a new id. */
  readonly id: number;
  /**
   * The LSN of the record replay builds the stream from: its create, or the newest image a
   * compaction wrote of it (0n until the create is acknowledged).
   */
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
  /** Where the stream's log records are, and what each takes. */
  readonly index: StreamIndex;
  /**
   * The bytes of the create's or image's own record; with the index's sizes,
   * `recordBytes`: what the stream keeps alive in the log.
   */
  baseBytes: number;
  recordBytes: number;
  /** How many index entries from the start have their LSN. */
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
  /**
   * While replaying: the records of ids not known (yet), in case an image of the stream
   * follows (its create was reclaimed); dropped at the id's create or delete (decision 0717).
   */
  private readonly orphans = new Map<number, IndexEntry[]>();
  /** While replaying: copies of entries the index does not hold, merged by `endReplay`. */
  private readonly late = new Map<StreamState, IndexEntry[]>();

  constructor(readonly recordOverhead = RECORD_OVERHEAD) {}

  get(id: number): StreamState | undefined {
    return this.byId.get(id);
  }

  /** The stream named `name` unless it was deleted or has expired by `now`. */
  existing(name: string, now: number): StreamState | undefined {
    const stream = this.byName.get(name);
    return stream === undefined || isExpired(stream, now) ? undefined : stream;
  }

  /** Every stream, live or expired (a checkpoint keeps them all). */
  all(): IterableIterator<StreamState> {
    return this.byId.values();
  }

  /** Forgets every stream's producers idle for `ttlMs` by `now`, before a checkpoint or images keep them. */
  forgetIdleProducers(now: number, ttlMs: number): void {
    for (const stream of this.byId.values()) forgetIdle(stream.producers, now, ttlMs);
  }

  /** Puts back a stream a checkpoint kept. */
  restore(stream: StreamState): void {
    this.byName.set(stream.name, stream);
    this.byId.set(stream.id, stream);
  }

  /**
   * Applies one frame. `lsn` is the record's LSN, or 0n while the live path waits for it
   * (`settle` then sets it); `time` is the record's time (the live path's clock);
   * `acked` settles with the append's acknowledgement, for its producer's retries;
   * `frameBytes` is the size of the frame's encoding (the record's payload).
   * The live path applies an image or a copy only once it is in the log, and only to the
   * stream it was made of: they move where records are, and change nothing else.
   */
  apply(
    frame: Frame,
    lsn: bigint,
    time: number | undefined,
    acked?: Promise<unknown>,
    frameBytes = 0,
  ): StreamState | undefined {
    const recordBytes = frameBytes + this.recordOverhead;
    if (frame.op === Op.CREATE) {
      this.orphans.delete(frame.streamId);
      const stream = newStream(frame.streamId, frame.name, frame.createdAt, frame.config);
      this.add(stream);
      stream.createLsn = lsn;
      const entry = frame.payloads.length > 0 ? 0 : undefined;
      const size = entry === undefined ? 0 : payloadsSize(frame.payloads);
      stream.baseBytes = recordBytes - size;
      stream.recordBytes = stream.baseBytes;
      if (entry !== undefined) addRecords(stream, frame.payloads, lsn, size);
      if (frame.close) stream.closing = true;
      if (lsn !== 0n) settle(stream, frame, lsn, entry);
      return stream;
    }
    const stream = this.byId.get(frame.streamId);
    // Records of an incarnation that was deleted or replaced stay dead, unless an image of
    // the stream follows: then its create was reclaimed, and these are its records.
    if (stream === undefined) return this.orphan(frame, lsn, recordBytes);
    if (frame.op === Op.IMAGE) {
      stream.createLsn = lsn;
      stream.recordBytes += recordBytes - stream.baseBytes;
      stream.baseBytes = recordBytes;
    } else if (frame.op === Op.COPY) {
      copiedEntries(frame.entries, lsn, this.recordOverhead, (e) => this.relocate(stream, e));
    } else if (frame.op === Op.APPEND) {
      this.appendTo(stream, frame, lsn, time, acked, frameBytes);
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

  /** `apply` of an append to its stream, which the live path has already looked up. */
  appendTo(
    stream: StreamState,
    frame: AppendFrame,
    lsn: bigint,
    time: number | undefined,
    acked: Promise<unknown> | undefined,
    frameBytes: number,
  ): void {
    const first = addRecords(stream, frame.payloads, lsn, frameBytes + this.recordOverhead);
    if (time !== undefined && time > stream.touchedAt) stream.touchedAt = time;
    if (frame.producer !== undefined) {
      const produced = { first, tail: stream.tail, acked: acked ?? ACKED };
      recordProducer(stream.producers, frame.producer, produced, stream.touchedAt);
    }
    if (frame.streamSeq !== undefined) stream.streamSeq = frame.streamSeq;
    if (frame.close) stream.closing = true;
    if (lsn !== 0n) settle(stream, frame, lsn, stream.index.length - 1);
  }

  /** Puts `stream` in, replacing an incarnation of its name (one whose expiry it follows). */
  private add(stream: StreamState): void {
    const old = this.byName.get(stream.name);
    // A create over a live name only follows that incarnation's expiry: its data is gone.
    if (old !== undefined) this.remove(old);
    this.byName.set(stream.name, stream);
    this.byId.set(stream.id, stream);
    this.nextId = Math.max(this.nextId, stream.id + 1);
  }

  /** A replayed record of an id not known: kept aside until an image of it (or its end). */
  private orphan(frame: Frame, lsn: bigint, recordBytes: number): StreamState | undefined {
    if (lsn === 0n) return undefined;
    const id = frame.streamId;
    if (frame.op === Op.DELETE) this.orphans.delete(id);
    if (frame.op !== Op.APPEND && frame.op !== Op.COPY && frame.op !== Op.IMAGE) return undefined;
    const entries = this.orphans.get(id);
    if (frame.op === Op.IMAGE) {
      this.orphans.delete(id);
      const stream = streamFromImage(id, frame.image, lsn, recordBytes);
      setEntries(stream, mergeEntries(entries ?? []));
      this.add(stream);
      return stream;
    }
    const kept = entries ?? [];
    if (entries === undefined) this.orphans.set(id, kept);
    if (frame.op === Op.APPEND) {
      kept.push({ start: frame.firstOffset, lsn: Number(lsn), size: recordBytes });
    } else copiedEntries(frame.entries, lsn, this.recordOverhead, (e) => kept.push(e));
    return undefined;
  }

  /** Points the entry at `e.start` to its copy; an entry the index lacks waits for `endReplay`. */
  private relocate(stream: StreamState, e: IndexEntry): void {
    const index = stream.index;
    const i = index.indexOfStart(e.start);
    if (i === -1) {
      const late = this.late.get(stream);
      if (late === undefined) this.late.set(stream, [e]);
      else late.push(e);
      return;
    }
    if (e.lsn <= index.lsn(i)) return;
    stream.recordBytes += e.size - index.size(i);
    index.move(i, e.lsn, e.size);
  }

  /**
   * Ends a replay: merges the copies of entries an image's stream did not hold yet into its
   * index. A writer (which writes images of streams it knows only) drops what is kept aside.
   */
  endReplay(writer: boolean): void {
    for (const [stream, late] of this.late) {
      const entries: IndexEntry[] = late;
      const index = stream.index;
      for (let i = 0; i < index.length; i++) {
        entries.push({ start: index.start(i), lsn: index.lsn(i), size: index.size(i) });
      }
      setEntries(stream, mergeEntries(entries));
    }
    this.late.clear();
    if (writer) this.orphans.clear();
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
function addRecords(
  stream: StreamState,
  payloads: readonly Buffer[],
  lsn: bigint,
  size: number,
): number {
  const first = stream.tail;
  stream.index.push(first, Number(lsn), size);
  stream.recordBytes += size;
  stream.tail += payloads.length;
  for (const p of payloads) stream.bytes += p.length;
  return first;
}

/**
 * The entries of a copy record at `lsn`, each with the bytes it takes; the first also
 * carries the record's own (the log's `overhead` and the copy frame's head).
 */
function copiedEntries(
  entries: readonly CopiedEntry[],
  lsn: bigint,
  overhead: number,
  each: (entry: IndexEntry) => void,
): void {
  let extra = overhead + COPY_HEAD;
  for (const e of entries) {
    each({ start: e.start, lsn: Number(lsn), size: copiedEntrySize(e.payloads) + extra });
    extra = 0;
  }
}

/** By start; of two with the same start, the later copy (higher LSN). */
function mergeEntries(entries: IndexEntry[]): IndexEntry[] {
  entries.sort((a, b) => a.start - b.start || a.lsn - b.lsn);
  const merged: IndexEntry[] = [];
  for (const e of entries) {
    if (merged.length > 0 && merged[merged.length - 1]!.start === e.start) merged.pop();
    merged.push(e);
  }
  return merged;
}

function setEntries(stream: StreamState, entries: readonly IndexEntry[]): void {
  stream.index.clear();
  stream.recordBytes = stream.baseBytes;
  for (const e of entries) {
    stream.index.push(e.start, e.lsn, e.size);
    stream.recordBytes += e.size;
  }
  stream.known = entries.length;
}

/** What an image keeps of `stream`: its state as of the image's record, without its index. */
export function imageOf(stream: StreamState): StreamImage {
  return {
    name: stream.name,
    createdAt: stream.createdAt,
    config: stream.config,
    tail: stream.tail,
    bytes: stream.bytes,
    closed: stream.closing,
    streamSeq: stream.streamSeq,
    touchedAt: stream.touchedAt,
    producers: producerImages(stream.producers),
  };
}

/** The producers as images and checkpoints keep them. */
export function producerImages(producers: ReadonlyMap<string, ProducerState>): ProducerImage[] {
  return [...producers].map(([id, p]) => [
    id,
    p.epoch,
    p.lastSeq,
    [...p.results].map(([seq, r]) => [seq, r.first, r.tail]),
    p.lastAt,
  ]);
}

function streamFromImage(id: number, image: StreamImage, lsn: bigint, bytes: number) {
  const stream = newStream(id, image.name, image.createdAt, image.config);
  stream.createLsn = lsn;
  stream.baseBytes = bytes;
  stream.tail = image.tail;
  stream.ackedTail = image.tail;
  stream.bytes = image.bytes;
  stream.closing = image.closed;
  stream.closed = image.closed;
  stream.streamSeq = image.streamSeq ?? undefined;
  stream.touchedAt = image.touchedAt;
  restoreProducers(stream, image.producers);
  return stream;
}

export function restoreProducers(stream: StreamState, producers: readonly ProducerImage[]): void {
  for (const [id, epoch, lastSeq, results, lastAt] of producers) {
    // Kept before producers were forgotten: their last append was the stream's at the latest.
    const at = lastAt ?? stream.touchedAt;
    const state: ProducerState = { epoch, lastSeq, lastAt: at, results: new Map() };
    for (const [seq, first, tail] of results.slice(-PRODUCER_WINDOW)) {
      state.results.set(seq, { first, tail, acked: ACKED });
    }
    stream.producers.set(id, state);
  }
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

export function newStream(
  id: number,
  name: string,
  createdAt: number,
  config: StreamConfig,
  index = new StreamIndex(),
) {
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
    index,
    baseBytes: 0,
    recordBytes: 0,
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
  const entries = stream.index;
  entries.setLsn(index, Number(lsn));
  while (stream.known < entries.length && entries.lsn(stream.known) !== 0) stream.known++;
  stream.ackedTail = stream.known < entries.length ? entries.start(stream.known) : stream.tail;
  wake(stream);
}

export function wake(stream: StreamState): void {
  if (stream.waiters.size === 0) return;
  for (const waiter of stream.waiters) waiter();
  stream.waiters.clear();
}

export function isExpired(stream: StreamState, now: number): boolean {
  return stream.expiresAt !== undefined && now >= stream.expiresAt;
}

/** What `metadata` reports of a stream. */
export function infoOf(stream: StreamState): StreamInfo {
  return {
    name: stream.name,
    id: stream.id,
    tail: stream.ackedTail,
    bytes: stream.bytes,
    createdAt: stream.createdAt,
    expiresAt: stream.expiresAt,
    closed: stream.closed,
    contentType: stream.config.contentType,
    metadata: stream.config.metadata ?? {},
    producers: stream.producers.size,
    streamSeq: stream.streamSeq,
    touchedAt: stream.touchedAt,
  };
}

/**
 * Waits until `stream` may have changed, or `pollMs` passed (a reader in another process
 * than the writer looks again then); aborting `signal` rejects with its reason.
 */
export function changeOf(
  stream: StreamState,
  signal: AbortSignal | undefined,
  pollMs: number | undefined,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', aborted);
      stream.waiters.delete(done);
      resolve();
    };
    const aborted = () => {
      done();
      reject(signal!.reason);
    };
    const timer = pollMs === undefined ? undefined : setTimeout(done, pollMs);
    stream.waiters.add(done);
    signal?.addEventListener('abort', aborted, { once: true });
  });
}
