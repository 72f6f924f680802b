import {
  badArgument,
  batchFrameSize,
  encodeBatchFrame,
  encodeBatchFrameUnsealed,
  encodePayloadFrameUnsealed,
  encodeRecordFrame,
  encodeRecordFrameUnsealed,
  FILE_HEADER_SIZE,
  FRAME_HEADER_SIZE,
  isBytes,
  type KeyRing,
  MAX_TIME_DELTA,
  MIN_COMPRESSED_BODY,
  payloadFrameSize,
  recordFrameSize,
  validateRecordInput,
  type WalRecordInput,
} from '@walnut/codec';
import type { ResolvedConfig } from './config.js';
import { hasRecords, plannedSegment, type Segment } from './files/segment.js';
import { batchTooLarge, lsnMismatch, lsnsUsedUp } from './usage-errors.js';
import { type Parts, planActive } from './wiring.js';
import { CompressionGate } from './write/compression-gate.js';
import type { Failures } from './write/failures.js';
import {
  appendCompressedRun,
  appendPayloadRun,
  appendTransformed,
  compressedRunEnd,
  isTransformed,
} from './write/frame-appends.js';
import {
  checkFrameBody,
  encodeReserved,
  forgetPayloads,
  takePayloads,
} from './write/frame-guard.js';
import type { SegmentSet } from './write/segment-set.js';
import type { Counters } from './write/stats.js';
import type { WritePipeline } from './write/write-pipeline.js';

/**
 * The encoding of SegmentedWal's appends into the write pipeline's buffer: a record, a
 * payload, a run of payloads, a batch, and the choice of the segment each frame goes to
 * (rolling over). The front checks that the log takes appends, then calls one of these; they
 * are built anew with the parts when truncateAfter reopens the log.
 *
 * The hot path (docs/decisions/0606-per-record-cost-budget.md): each append calls the
 * pipeline's room() and commit() and encodes into its buffer here, inline; the split into
 * parts adds one call per append, from the front to here.
 */
export class Appends {
  private readonly pipeline: WritePipeline;
  private readonly segments: SegmentSet;
  private readonly failures: Failures;
  private readonly counters: Counters;
  /** `payloads`' own copy of the caller's list, empty between calls. */
  private readonly payloadList: Uint8Array[] = [];
  /** The time of the frame being appended, in ms after its segment's createdAtMs (see segmentFor). */
  private frameTime = 0;
  /** With compression on: which bodies are worth a try (decision 0119). */
  private readonly gate: CompressionGate | undefined;

  constructor(
    private readonly cfg: ResolvedConfig,
    private readonly parts: Parts,
    private readonly ring: () => KeyRing | undefined,
    /** The front's check, for a payload that goes on as another kind of append. */
    private readonly checkWritable: (what: string) => void,
  ) {
    this.pipeline = parts.pipeline;
    this.segments = parts.segments;
    this.failures = parts.failures;
    this.counters = parts.counters;
    this.gate = cfg.compression && new CompressionGate(cfg.compression);
  }

  /** `append`: one record frame; returns its LSN. */
  record(record: WalRecordInput): bigint {
    const plainSize = recordFrameSize(record, true);
    const bytes = record.payload.length + (record.meta === undefined ? 0 : record.meta.length);
    if (bytes > this.cfg.maxRecordSize) validateRecordInput(record, this.cfg.maxRecordSize);
    checkFrameBody(plainSize, 'record');
    const p = this.pipeline;
    if (p.lsnHeadroom < 1 && !p.refreshLsnHeadroom(1)) throw lsnsUsedUp('record');
    const lsn = p.nextLsn;
    const seg = this.segmentFor();
    const time = this.frameTime;
    const compressor = this.gate?.take(plainSize - FRAME_HEADER_SIZE);
    if (!isTransformed(seg, compressor)) {
      const at = p.room(plainSize);
      if (this.failures.poison !== null) throw this.failures.poison;
      encodeReserved(encodeRecordFrameUnsealed, p.buf, at, lsn, record, plainSize, 'record', time);
      p.unsealed = true;
      p.commit(seg, plainSize, lsn, lsn, 1);
    } else {
      appendTransformed(
        p,
        this.failures,
        seg,
        seg.writeCipher,
        compressor,
        encodeRecordFrame,
        record,
        plainSize,
        lsn,
        1,
        'record',
        time,
      );
    }
    this.counters.appends++;
    this.counters.records++;
    return lsn;
  }

  /** `appendPayload`: one payload frame, or the general path when it is transformed. */
  payload(payload: Uint8Array): bigint {
    if (!isBytes(payload)) {
      badArgument('payload', 'a Uint8Array or Buffer', payload);
    }
    if (payload.length > this.cfg.maxRecordSize) {
      validateRecordInput({ payload }, this.cfg.maxRecordSize);
    }
    const size = payloadFrameSize(payload, true);
    checkFrameBody(size, 'record');
    const p = this.pipeline;
    if (p.lsnHeadroom < 1 && !p.refreshLsnHeadroom(1)) throw lsnsUsedUp('record');
    const lsn = p.nextLsn;
    const seg = this.segmentFor();
    // Encrypted segments and compressed frames take the general path (the segment stays:
    // segmentFor is idempotent).
    if (
      seg.writeCipher !== undefined ||
      (this.gate !== undefined && size - FRAME_HEADER_SIZE >= MIN_COMPRESSED_BODY)
    ) {
      this.checkWritable('append');
      return this.record({ payload });
    }
    const at = p.room(size);
    if (this.failures.poison !== null) throw this.failures.poison;
    // No caller code runs between reading payload.length and the copy: the frame is `size`.
    encodePayloadFrameUnsealed(p.buf, at, lsn, payload, this.frameTime);
    p.unsealed = true;
    p.commit(seg, size, lsn, lsn, 1);
    this.counters.appends++;
    this.counters.records++;
    return lsn;
  }

  /**
   * `appendPayloads`: the frames that fit the write buffer and the active segment are encoded
   * in one codec call and booked once, which is what makes it cheaper per record than a loop
   * of `payload`.
   */
  payloads(payloads: readonly Uint8Array[]): bigint {
    const list = this.payloadList;
    try {
      const frameBytes = takePayloads(payloads, list, this.cfg.maxRecordSize);
      const count = list.length;
      const p = this.pipeline;
      if (p.lsnHeadroom < count && !p.refreshLsnHeadroom(count)) throw lsnsUsedUp('records');
      // The list's size is known for its first run only; a run cut short by the end of the
      // write buffer leaves the rest to be measured payload by payload.
      let from = this.run(list, 0, count, frameBytes);
      while (from < count) from = this.run(list, from, count, Number.POSITIVE_INFINITY);
      return p.nextLsn - 1n;
    } finally {
      // The caller's buffers are not kept reachable.
      forgetPayloads(list);
    }
  }

  /** Appends the run of `list` from `from` that fits (see `appendPayloadRun`); returns where it ended. */
  private run(list: readonly Uint8Array[], from: number, count: number, restBytes: number): number {
    // A run the gate skips goes the plain way below: many frames in one codec call.
    const compressor = this.gate?.take(Number.POSITIVE_INFINITY);
    if (compressor !== undefined) {
      const to = compressedRunEnd(list, from, count, this.cfg.maxRecordSize);
      if (to - from === 1) {
        this.checkWritable('append');
        this.payload(list[from]!);
        return to;
      }
      const seg = this.segmentFor();
      appendCompressedRun(
        this.pipeline,
        this.failures,
        seg,
        compressor,
        list,
        from,
        to,
        this.frameTime,
      );
      this.counters.appends += to - from;
      this.counters.records += to - from;
      return to;
    }
    const seg = this.segmentFor();
    if (seg.writeCipher !== undefined) {
      // One frame at a time: encryption seals and encrypts each frame on its own.
      this.checkWritable('append');
      this.payload(list[from]!);
      return from + 1;
    }
    const target = this.cfg.segmentTargetSize;
    const { pipeline: p, failures: f, frameTime } = this;
    const to = appendPayloadRun(p, f, seg, list, from, count, restBytes, target, frameTime);
    this.counters.appends += to - from;
    this.counters.records += to - from;
    return to;
  }

  /** `appendBatch`: the records as one atomic frame; returns the last LSN. */
  batch(records: readonly WalRecordInput[], firstLsn?: bigint): bigint {
    const p = this.pipeline;
    if (firstLsn !== undefined && firstLsn !== p.nextLsn) lsnMismatch(firstLsn, p.nextLsn);
    const plainSize = batchFrameSize(records, true);
    let bytes = 0;
    for (const r of records) bytes += r.payload.length + (r.meta === undefined ? 0 : r.meta.length);
    if (bytes > this.cfg.maxRecordSize) throw batchTooLarge(bytes, this.cfg.maxRecordSize);
    checkFrameBody(plainSize, 'batch');
    const n = records.length;
    if (p.lsnHeadroom < n && !p.refreshLsnHeadroom(n)) throw lsnsUsedUp('batch');
    const first = p.nextLsn;
    const last = first + BigInt(n - 1);
    const seg = this.segmentFor();
    const time = this.frameTime;
    const compressor = this.gate?.take(plainSize - FRAME_HEADER_SIZE);
    if (!isTransformed(seg, compressor)) {
      const at = p.room(plainSize);
      if (this.failures.poison !== null) throw this.failures.poison;
      encodeReserved(encodeBatchFrameUnsealed, p.buf, at, first, records, plainSize, 'batch', time);
      p.unsealed = true;
      p.commit(seg, plainSize, first, last, n);
    } else {
      appendTransformed(
        p,
        this.failures,
        seg,
        seg.writeCipher,
        compressor,
        encodeBatchFrame,
        records,
        plainSize,
        first,
        n,
        'batch',
        time,
      );
    }
    this.counters.batches++;
    this.counters.records += n;
    return last;
  }

  /**
   * The segment the next frame goes to, rolling over when the active one is full or when the
   * time now is too far after its creation for a frame's u32 of ms (FORMAT.md, version 2).
   * Sets `frameTime`, the next frame's time in ms after that segment's createdAtMs.
   */
  private segmentFor(): Segment {
    const active = this.segments.active();
    const clock = this.segments.clock;
    const now = clock.now();
    const late = now - active.header.createdAtMs > MAX_TIME_DELTA;
    if (!late && (active.assignedEnd < this.cfg.segmentTargetSize || !hasRecords(active))) {
      this.frameTime = now - active.header.createdAtMs;
      return active;
    }
    const p = this.pipeline;
    let next: Segment;
    if (hasRecords(active)) {
      p.submitBuffer();
      next = plannedSegment(this.cfg.dir, p.nextLsn, this.ring(), clock, this.cfg.compression);
      p.resetTo(FILE_HEADER_SIZE, p.nextLsn, next.headerBytes);
      this.segments.rollOver(next);
    } else {
      // An empty segment created too long ago is replaced by a new one of the same name.
      if (active.status === 'pending' && active.creating === null) this.segments.list.pop();
      next = planActive(this.parts, this.ring());
    }
    this.frameTime = clock.nowOrLast() - next.header.createdAtMs;
    return next;
  }
}
