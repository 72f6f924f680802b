import { ClockReadings } from '@walnut/codec';
import { TAIL_POLL_MS, Wal, WalError, WalErrorCode } from '@walnut/wal';
import { appendFrame, checkSize, checkStamp, payloadList } from './append-checks.js';
import { CheckpointFiles } from './checkpoint-files.js';
import {
  type CompactResult,
  compactLog,
  planCompaction,
  type SpaceReport,
  spaceReport,
} from './compaction.js';
import { expired, notFound, StreamErrorCode, streamError } from './errors.js';
import {
  decodeRecord,
  encodeFrame,
  type Frame,
  Op,
  STREAMS_RECORD_TYPE,
  type StreamConfig,
} from './frame.js';
import { WriteGate } from './gate.js';
import { checkName } from './names.js';
import { type Offset, parseOffset } from './offsets.js';
import { type AppendResult, judgeProducer } from './producers.js';
import { type ReadBounds, type ReadResult, readStream, type StreamRecord } from './read.js';
import { reclaimBoundary } from './reclaim.js';
import { checkConfig, sameConfig } from './stream-config.js';
import {
  type AppendOptions,
  type CreateOptions,
  resolveOptions,
  type StreamInfo,
  type StreamsOptions,
  type StreamsRecovery,
  type StreamsSettings,
  type TailOptions,
} from './streams-options.js';
import {
  changeOf,
  infoOf,
  isExpired,
  type StreamState,
  StreamTable,
  settle,
  wake,
} from './table.js';

/**
 * Any number of named streams in one Walnut log: one lock, one group commit and one
 * fdatasync for all of them (README; decision 0710).
 */
export class Streams {
  private table: StreamTable;
  /** The next record to apply; 0n: the first the log keeps (segments may have been reclaimed). */
  private nextLsn = 0n;
  private replayed = 0;
  private checkpointLsn = 0n;
  /** Calls whose records are not acknowledged yet: a checkpoint waits for none. */
  private pending = 0;
  private sinceCheckpoint = 0;
  private checkpointing: Promise<bigint | undefined> | undefined;
  private compacting: Promise<CompactResult> | undefined;
  /** Streams too large to image: while one exists, the log stays over its bound. */
  private pinnedBy: StreamState[] = [];
  /** The automatic checkpoint, reclaim and compaction check under way. */
  private upkeep: Promise<void> | undefined;
  /** Reads under way: a compaction deletes the records they may still look for after them. */
  private readonly reads = new Set<Promise<unknown>>();
  private readonly gate = new WriteGate();
  private readonly checkpoints: CheckpointFiles;
  /** The latest time seen: the log's clock, never earlier than a record's time. */
  private latest = 0;
  /** The clock's readings: one of `Date.now` serves several calls of one job (decision 0916). */
  private readonly readings: ClockReadings;
  private shut = false;
  private broken: unknown;

  private constructor(
    private readonly wal: Wal,
    private readonly space: StreamsSettings,
  ) {
    this.table = new StreamTable(space.overhead);
    this.checkpoints = new CheckpointFiles(wal, space.overhead);
    this.readings = new ClockReadings(space.clock);
  }

  /** Opens (creating if need be) the log at `dir` and rebuilds every stream from it. */
  static async open(dir: string | URL, options: StreamsOptions = {}): Promise<Streams> {
    const settings = resolveOptions(options);
    const wal = await Wal.open(dir).options(settings.walOptions);
    const streams = new Streams(wal, settings);
    try {
      await streams.restore();
      await streams.catchUp();
    } catch (error) {
      await wal.close();
      throw error;
    }
    return streams;
  }

  /** What open rebuilt the streams from: the checkpoint, and the records replayed after it. */
  get recovery(): StreamsRecovery {
    return { checkpointLsn: this.checkpointLsn, replayedRecords: this.replayed };
  }

  /** The log underneath, for its stats and durability; write to it only through this object. */
  get log(): Wal {
    return this.wal;
  }

  /**
   * Creates stream `name`. Creating an existing stream with the same configuration does
   * nothing and resolves with `created: false`; with another, WAL_STREAM_CONFLICT. A name
   * whose stream expired is created anew, without its old records. `initial` records and a
   * close are written with the create, in its record, and only when it creates the stream.
   */
  create(
    name: string,
    config: StreamConfig = {},
    initial: CreateOptions = {},
  ): Promise<{ created: boolean; info: StreamInfo }> {
    return this.gate.admit(() => this.createNow(name, config, initial));
  }

  private async createNow(
    name: string,
    config: StreamConfig,
    initial: CreateOptions,
  ): Promise<{ created: boolean; info: StreamInfo }> {
    this.checkUsable();
    checkName('stream name', name);
    const wanted = checkConfig(config);
    const payloads = initial.payloads === undefined ? [] : payloadList(initial.payloads);
    checkSize(
      this.space.maxRecordSize,
      name,
      undefined,
      payloads,
      Buffer.byteLength(name) + JSON.stringify(wanted).length,
    );
    const existing = this.table.existing(name, this.now());
    if (existing !== undefined) {
      if (!sameConfig(existing.config, wanted)) {
        throw streamError(
          StreamErrorCode.CONFLICT,
          `stream "${name}" exists with another configuration (${JSON.stringify(existing.config)}); create it with that one, or delete it first`,
          { stream: name },
        );
      }
      await existing.ready;
      return { created: false, info: infoOf(existing) };
    }
    const frame: Frame = {
      op: Op.CREATE,
      streamId: this.table.nextId,
      name,
      createdAt: this.now(),
      config: wanted,
      payloads: payloads as Buffer[],
      close: initial.close === true,
    };
    const payload = encodeFrame(frame);
    const written = this.write(payload, (lsn) => lsn);
    const stream = this.table.apply(frame, 0n, frame.createdAt, undefined, payload.length)!;
    stream.ready = written.then((lsn) => {
      settle(stream, frame, lsn, payloads.length > 0 ? 0 : undefined);
    });
    await stream.ready;
    return { created: true, info: infoOf(stream) };
  }

  /**
   * Appends one payload or a list, atomically: after a crash all of them are in the stream
   * or none. Resolves once the log's durability mode is met, with the offsets.
   */
  append(
    name: string,
    payloads: Uint8Array | readonly Uint8Array[],
    options: AppendOptions = {},
  ): Promise<AppendResult> {
    // The common case skips the gate's closure: each append's cost is on W3's critical path.
    if (!this.gate.holding) return this.appendNow(name, payloads, options);
    return this.gate.admit(() => this.appendNow(name, payloads, options));
  }

  private appendNow(
    name: string,
    payloads: Uint8Array | readonly Uint8Array[],
    options: AppendOptions,
  ): Promise<AppendResult> {
    try {
      this.checkUsable();
      const list = payloadList(payloads);
      const now = this.now();
      const stream = this.live(name, now);
      const producer = checkStamp(options.producer, stream.producers);
      if (producer !== undefined) {
        const ttl = this.space.producerTtlMs;
        const original = judgeProducer(name, stream.producers, producer, now, ttl);
        if (original !== undefined) return original;
      }
      const frame = appendFrame(stream, list, producer, options, this.space.maxRecordSize);
      const first = stream.tail;
      const tail = first + list.length;
      const index = stream.index.length;
      const payload = encodeFrame(frame);
      const result = this.write(payload, (lsn): AppendResult => {
        settle(stream, frame, lsn, index);
        return producer === undefined
          ? { first, tail, duplicate: false }
          : { first, tail, duplicate: false, producerSeq: producer.seq };
      });
      this.table.appendTo(stream, frame, 0n, now, result, payload.length);
      return result;
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Closes stream `name`: appends are refused from now on, and readers see its end. */
  close(name: string): Promise<StreamInfo> {
    return this.gate.admit(() => this.closeNow(name));
  }

  private async closeNow(name: string): Promise<StreamInfo> {
    this.checkUsable();
    const stream = this.live(name);
    if (!stream.closing) {
      const frame: Frame = { op: Op.CLOSE, streamId: stream.id };
      const written = this.write(encodeFrame(frame), (lsn) =>
        settle(stream, frame, lsn, undefined),
      );
      this.table.apply(frame, 0n, undefined);
      await written;
    }
    await stream.ready;
    return infoOf(stream);
  }

  /** Deletes stream `name`: its records are never read again, whatever is created under its name. */
  delete(name: string): Promise<boolean> {
    return this.gate.admit(() => this.deleteNow(name));
  }

  private async deleteNow(name: string): Promise<boolean> {
    this.checkUsable();
    const stream = this.table.existing(name, this.now());
    if (stream === undefined) {
      checkName('stream name', name);
      return false;
    }
    const frame: Frame = { op: Op.DELETE, streamId: stream.id };
    const written = this.write(encodeFrame(frame), () => {});
    this.table.apply(frame, 0n, undefined);
    await written;
    return true;
  }

  /**
   * Records that stream `name` was used now (its `touchedAt`), durably, without appending:
   * for expiry that slides with use, kept by an application above (decision 0715).
   */
  touch(name: string): Promise<StreamInfo> {
    return this.gate.admit(async () => {
      this.checkUsable();
      const stream = this.live(name);
      const frame: Frame = { op: Op.TOUCH, streamId: stream.id, time: this.now() };
      const written = this.write(encodeFrame(frame), () => {});
      this.table.apply(frame, 0n, undefined);
      await written;
      return infoOf(stream);
    });
  }

  /** The names of the streams that exist (neither deleted nor expired), sorted. */
  list(): string[] {
    const now = this.now();
    return [...this.table.byName.values()]
      .filter((s) => !isExpired(s, now))
      .map((s) => s.name)
      .sort();
  }

  /** Whether stream `name` exists (neither deleted nor expired), without `metadata`'s error. */
  has(name: string): boolean {
    if (this.table.existing(name, this.now()) !== undefined) return true;
    checkName('stream name', name);
    return false;
  }

  metadata(name: string): StreamInfo {
    return infoOf(this.live(name));
  }

  /** Acknowledged records of stream `name` from offset `from` on, within the bounds. */
  async read(name: string, from: Offset = 0, bounds: ReadBounds = {}): Promise<ReadResult> {
    const offset = parseOffset(from);
    if (this.wal.readOnly) await this.catchUp();
    return this.reading(readStream(this.wal, this.live(name), offset, bounds));
  }

  /**
   * The records of stream `name` from `from` on, then each new one as it is acknowledged
   * (read-only: as another process's writer appends it, looked for every TAIL_POLL_MS).
   * Ends at a closed stream's end or when the streams are shut down; throws
   * WAL_STREAM_NOT_FOUND if the stream is deleted meanwhile.
   */
  async *tail(name: string, options: TailOptions = {}): AsyncGenerator<StreamRecord> {
    const { signal } = options;
    let next = parseOffset(options.from ?? 0);
    if (this.wal.readOnly) await this.catchUp();
    const stream = this.live(name);
    for (;;) {
      signal?.throwIfAborted();
      if (stream.deleted) throw notFound(name);
      this.checkNotExpired(stream);
      if (next < stream.ackedTail) {
        const read = await this.reading(readStream(this.wal, stream, next, options));
        next = read.next;
        for (const record of read.records) yield record;
        continue;
      }
      if (stream.closed || this.shut) return;
      await changeOf(stream, signal, this.wal.readOnly ? TAIL_POLL_MS : undefined);
      if (this.wal.readOnly) await this.catchUp();
    }
  }

  /** `read`, counted among the reads under way until it settles. */
  private reading<T>(read: Promise<T>): Promise<T> {
    this.reads.add(read);
    const done = () => this.reads.delete(read);
    read.then(done, done);
    return read;
  }

  /** Ends every tail, waits for the appends made so far, and closes the log. */
  async shutdown(timeoutMs?: number): Promise<void> {
    if (this.shut) return;
    this.shut = true;
    for (const stream of this.table.byName.values()) wake(stream);
    try {
      await this.upkeep;
      await this.compacting?.catch(() => {});
      // The index rows in one piece per stream, so that the next open copies none of them.
      const pieced = this.checkpoints.fragmented;
      if (!this.wal.readOnly && this.broken === undefined && (this.sinceCheckpoint > 0 || pieced)) {
        await this.checkpointWith(true);
      }
    } finally {
      await this.wal.shutdown(timeoutMs);
    }
  }

  /**
   * Writes the index checkpoint, so the next open replays only later records; resolves with
   * the LSN it covers (undefined for read-only or broken streams). New calls wait while the
   * ones in flight are acknowledged — about one group commit — and then run in order. One
   * already being written is waited for first.
   */
  checkpoint(): Promise<bigint | undefined> {
    return this.checkpointWith(false);
  }

  /** `whole`: the index rows file written whole (shutdown's; decision 0720). */
  private async checkpointWith(whole: boolean): Promise<bigint | undefined> {
    // One at a time (they share a temporary file); one in flight may predate the caller's calls.
    while (this.checkpointing !== undefined) await this.checkpointing.catch(() => {});
    this.checkpointing = this.writeCheckpoint(whole).finally(() => {
      this.checkpointing = undefined;
    });
    return this.checkpointing;
  }

  private async writeCheckpoint(whole: boolean): Promise<bigint | undefined> {
    if (this.wal.readOnly) return undefined;
    const taken = await this.quiesced(() =>
      this.checkpoints.take(this.table, this.wal.lastLsn, this.latest, whole),
    );
    if (taken === undefined) return undefined;
    this.sinceCheckpoint = 0;
    // The records the checkpoint stands for are durable before the file that skips them.
    await this.wal.sync();
    await this.checkpoints.write(taken);
    this.checkpointLsn = taken.lsn;
    return taken.lsn;
  }

  /**
   * Runs `take` once no call is in flight (so every index entry's LSN is known), holding new
   * calls meanwhile; undefined if that moment did not come, or `take` found an entry unknown.
   * Idle producers are forgotten first: what `take` keeps (a checkpoint, images) drops them.
   */
  private async quiesced<T>(take: () => T | undefined): Promise<T | undefined> {
    let taken: T | undefined;
    this.gate.hold();
    try {
      // Bounded: no call is admitted meanwhile, so each round can only shrink `pending`.
      for (let round = 0; round < 100 && taken === undefined; round++) {
        if (this.broken !== undefined) return undefined;
        if (this.pending > 0) await this.wal.sync();
        // The acknowledgements settling with the sync set the index's LSNs; let them run.
        await new Promise(setImmediate);
        if (this.pending > 0) continue;
        this.table.forgetIdleProducers(this.now(), this.space.producerTtlMs);
        taken = take();
      }
    } finally {
      this.gate.open();
    }
    return taken;
  }

  /**
   * What the log's segments hold: `liveBytes` (the records the existing streams need),
   * `deadBytes` (the rest) and `boundBytes`, which every compaction check keeps `logBytes`
   * within (decision 0717).
   */
  async spaceUsed(): Promise<SpaceReport> {
    const { maxWaste, segmentSize } = this.space;
    return spaceReport(this.table, await this.wal.segments(), this.now(), maxWaste, segmentSize);
  }

  /**
   * Copies the live records of every sealed segment forward (same offsets: the index then
   * points at the copies), checkpoints, and deletes those segments (decision 0717). One at
   * a time; appends go on meanwhile.
   */
  async compact(): Promise<CompactResult> {
    this.checkUsable();
    while (this.compacting !== undefined) await this.compacting.catch(() => {});
    this.compacting = this.compactNow().finally(() => {
      this.compacting = undefined;
    });
    return this.compacting;
  }

  private compactNow(): Promise<CompactResult> {
    return compactLog({
      wal: this.wal,
      maxRecordSize: this.space.maxRecordSize,
      // Every LSN below `below` was handed out already: once none is in flight, all are known.
      plan: (below) =>
        this.quiesced(() =>
          planCompaction(this.table, below, this.now(), this.space.maxRecordSize),
        ),
      write: (stream, make) => this.writeCopy(stream, make),
      finish: async () => {
        // The index points at the copies once the checkpoint says so; reads that may still
        // look for the old records end before those are deleted.
        await this.checkpoint();
        await Promise.allSettled([...this.reads]);
        return this.shut ? { segmentsDeleted: 0, bytesReclaimed: 0 } : this.reclaim();
      },
    });
  }

  /** Writes a compaction's copy or image of `stream`, applied once in the log; its bytes. */
  private writeCopy(stream: StreamState, make: () => Frame): Promise<number | undefined> {
    return this.gate.admit(async () => {
      if (this.table.get(stream.id) !== stream) return 0;
      const frame = make();
      const payload = encodeFrame(frame);
      // The log would refuse it (and the streams break); left out, its records pin their segments.
      if (payload.length > this.space.maxRecordSize) return undefined;
      const lsn = await this.write(payload, (written) => written, false);
      // A stream deleted meanwhile stays deleted: the copy only moved its records.
      if (this.table.get(stream.id) === stream) {
        this.table.apply(frame, lsn, undefined, undefined, payload.length);
      }
      return payload.length + this.space.overhead;
    });
  }

  /**
   * Deletes the log's sealed segments that hold nothing a live stream needs: every record
   * below both the oldest live stream's create and the checkpoint (decision 0713).
   */
  async reclaim(): Promise<{ belowLsn: bigint; segmentsDeleted: number; bytesReclaimed: number }> {
    this.checkUsable();
    const belowLsn = reclaimBoundary(this.table, this.checkpointLsn, this.now());
    if (belowLsn <= this.wal.floorLsn) return { belowLsn, segmentsDeleted: 0, bytesReclaimed: 0 };
    return { belowLsn, ...(await this.wal.truncateBefore(belowLsn)) };
  }

  /** Takes a checkpoint once enough calls were made since the last. */
  private settled(): void {
    this.pending--;
    if (this.space.checkpointEvery === 0 || this.sinceCheckpoint < this.space.checkpointEvery)
      return;
    // A failed checkpoint costs only a longer open; the next one is tried as calls go on.
    if (this.checkpointing === undefined && this.upkeep === undefined && !this.shut) {
      this.upkeep = this.checkpoint()
        .then(() => this.reclaim())
        .then(() => this.compactIfWasteful())
        .catch(() => {})
        .finally(() => {
          this.upkeep = undefined;
        });
    }
  }

  /** Compacts when the log holds more than `boundBytes` (`maxWaste`; decision 0717). */
  private async compactIfWasteful(): Promise<void> {
    if (this.compacting !== undefined || this.shut || this.space.maxWaste === Infinity) return;
    // Not retried while a stream that pinned the last one exists: each try encodes its image.
    const now = this.now();
    if (this.pinnedBy.some((s) => this.table.existing(s.name, now) === s)) return;
    const space = await this.spaceUsed();
    if (space.logBytes <= space.boundBytes) return;
    const { streamsTooLarge } = await this.compact();
    this.pinnedBy = streamsTooLarge.flatMap((name) => this.table.existing(name, now) ?? []);
  }

  /** Starts from the checkpoint file, if there is one this log's records can follow. */
  private async restore(): Promise<void> {
    const checkpoint = await this.checkpoints.load(this.wal.lastLsn);
    if (checkpoint === undefined) return; // replay everything
    this.table = checkpoint.table;
    this.latest = checkpoint.latest;
    this.nextLsn = checkpoint.lsn + 1n;
    this.checkpointLsn = checkpoint.lsn;
  }

  /**
   * Appends a frame's bytes and runs `then` with its LSN once acknowledged, in the one
   * reaction that also does the bookkeeping; `counted`: a call's, which counts towards the
   * next checkpoint.
   */
  private write<T>(payload: Buffer, then: (lsn: bigint) => T, counted = true): Promise<T> {
    const written = this.wal.appendRecord({ type: STREAMS_RECORD_TYPE, payload });
    this.pending++;
    if (counted) this.sinceCheckpoint++;
    return written.then(
      (lsn) => {
        try {
          return then(lsn);
        } finally {
          this.settled();
        }
      },
      (error) => {
        // What reached the log is known only after reopening: the table may be ahead of it.
        this.broken ??= error;
        this.settled();
        throw error;
      },
    );
  }

  /** Applies the log's records from `nextLsn` on (all of them at open). */
  private async catchUp(): Promise<void> {
    await this.wal.replay(this.nextLsn, (record) => {
      const frame = decodeRecord(record);
      this.table.apply(frame, record.lsn, record.time, undefined, record.payload.length);
      if (record.time !== undefined && record.time > this.latest) this.latest = record.time;
      this.nextLsn = record.lsn + 1n;
      this.replayed++;
    });
    this.table.endReplay(!this.wal.readOnly);
    // What was replayed counts as calls made: a shutdown spares the next open from it.
    this.sinceCheckpoint = this.replayed;
  }

  private now(): number {
    this.latest = Math.max(this.latest, this.readings.read());
    return this.latest;
  }

  private checkUsable(): void {
    if (this.shut) throw WalError.closed('the streams', 'open them again to append');
    if (this.broken !== undefined) {
      throw streamError(
        StreamErrorCode.BROKEN,
        'a write to the log failed, so what the streams hold is known only after reopening: shut down and open them again',
        {},
        this.broken,
      );
    }
    if (this.wal.readOnly) {
      throw new WalError(WalErrorCode.READ_ONLY, 'these streams were opened read-only');
    }
  }

  /** The stream `name`, neither deleted nor expired. */
  private live(name: string, now = this.now()): StreamState {
    // A name in the table passed `checkName` at its create: only a miss pays for the check.
    const stream = this.table.byName.get(name);
    if (stream === undefined) throw notFound(checkName('stream name', name));
    this.checkNotExpired(stream, now);
    return stream;
  }

  private checkNotExpired(stream: StreamState, now = this.now()): void {
    if (isExpired(stream, now)) throw expired(stream.name, stream.expiresAt!);
  }
}
