import type { SegmentInfo, Wal } from '@walnut/wal';
import {
  COPY_HEAD,
  type CopiedEntry,
  copiedEntrySize,
  decodeFrame,
  encodeFrame,
  type Frame,
  Op,
} from './frame.js';
import { StreamRecordReader } from './record-reader.js';
import { imageOf, isExpired, type StreamState, type StreamTable } from './table.js';

/** Dead bytes allowed per live byte before an automatic compaction (decision 0717). */
export const DEFAULT_MAX_WASTE = 1;
/** The log's default segment size (the wal README's `segmentSize`). */
export const DEFAULT_SEGMENT_SIZE = 64 * 1024 * 1024;
/** Copies held in memory before they are written, over all streams. */
const PENDING_BYTES = 4 * 1024 * 1024;

/** What the log's segments hold: what the streams need, and what they do not. */
export interface SpaceReport {
  /** Bytes of the log's segment files on disk. */
  readonly logBytes: number;
  /** Bytes of the records the streams that exist need (their framing in the log included). */
  readonly liveBytes: number;
  /** `logBytes - liveBytes`: deleted and expired streams' records, replaced copies, the rest. */
  readonly deadBytes: number;
  /** `liveBytes × (1 + maxWaste) + segmentSize`: what a compaction check keeps the log within. */
  readonly boundBytes: number;
}

export interface CompactResult {
  /** The records below it were copied forward (the first LSN of the segment then written). */
  readonly belowLsn: bigint;
  readonly streamsCopied: number;
  /** Index entries (one per original append record) copied. */
  readonly recordsCopied: number;
  /** Bytes of the copy and image records written, their framing in the log included. */
  readonly bytesCopied: number;
  readonly segmentsDeleted: number;
  readonly bytesReclaimed: number;
  /**
   * Streams a copy or image of which would have been larger than `maxRecordSize` (an image
   * holds the producers' state): not written, so their records keep their segments.
   */
  readonly streamsTooLarge: readonly string[];
}

export function spaceReport(
  table: StreamTable,
  segments: readonly SegmentInfo[],
  now: number,
  maxWaste: number,
  segmentSize: number,
): SpaceReport {
  let logBytes = 0;
  for (const s of segments) logBytes += s.sizeBytes;
  let liveBytes = 0;
  for (const stream of table.all()) if (!isExpired(stream, now)) liveBytes += stream.recordBytes;
  return {
    logBytes,
    liveBytes,
    deadBytes: Math.max(0, logBytes - liveBytes),
    boundBytes: liveBytes * (1 + maxWaste) + segmentSize,
  };
}

/**
 * The LSN below which a compaction copies: the first of the segment being written, so that
 * every segment below it is sealed and goes once its live records are copied. Undefined
 * when nothing lies below it.
 */
export function compactionBoundary(segments: readonly SegmentInfo[], floor: bigint) {
  const open = segments.find((s) => !s.sealed) ?? segments[segments.length - 1];
  return open === undefined || open.firstLsn <= floor ? undefined : open.firstLsn;
}

/** A stream's entries whose records lie below the boundary, and whether its base does. */
export interface PlannedStream {
  readonly stream: StreamState;
  readonly entries: number[];
  readonly image: boolean;
}

export interface CompactionPlan {
  /** The boundary asked for, or the base of the lowest stream too large to image. */
  readonly below: bigint;
  readonly streams: PlannedStream[];
  /** Streams whose image would be larger than `maxRecordSize` (their producers' state). */
  readonly tooLarge: string[];
}

/** The image record of `stream` now, and whether the log would take it. */
export function imageFits(stream: StreamState, maxRecordSize: number): boolean {
  const frame: Frame = { op: Op.IMAGE, streamId: stream.id, image: imageOf(stream) };
  return encodeFrame(frame).length <= maxRecordSize;
}

/**
 * What to copy below `asked`, taken with no call in flight (every entry's LSN known);
 * undefined while one is not. Expired streams are dead: nothing of theirs is copied. A
 * stream whose base lies below and whose image would not fit in a record lowers the
 * boundary to that base: what lies above it cannot be freed while the base stays.
 */
export function planCompaction(
  table: StreamTable,
  asked: bigint,
  now: number,
  maxRecordSize: number,
): CompactionPlan | undefined {
  let below = asked;
  const tooLarge: string[] = [];
  const live: StreamState[] = [];
  for (const stream of table.all()) {
    if (stream.known !== stream.index.length || stream.createLsn === 0n) return undefined;
    if (isExpired(stream, now)) continue;
    live.push(stream);
    if (stream.createLsn < asked && !imageFits(stream, maxRecordSize)) {
      tooLarge.push(stream.name);
      if (stream.createLsn < below) below = stream.createLsn;
    }
  }
  const streams: PlannedStream[] = [];
  const limit = Number(below);
  for (const stream of live) {
    const entries: number[] = [];
    const index = stream.index;
    for (let i = 0; i < index.length; i++) if (index.lsn(i) < limit) entries.push(i);
    const image = stream.createLsn < below;
    if (image || entries.length > 0) streams.push({ stream, entries, image });
  }
  return { below, streams, tooLarge: tooLarge.sort() };
}

/** What the copier needs of the streams: reading a record, writing a frame. */
export interface CopyHost {
  /** The payload of record `lsn`; LSNs asked for ascend. */
  read(lsn: bigint): Promise<Buffer>;
  /**
   * Writes `frame` of `stream` (an image is made by `frame()` as it is written, so it is
   * the stream's state as of its own record) and applies it once it is in the log; its
   * bytes, or undefined when it is larger than `maxRecordSize` and was not written.
   */
  write(stream: StreamState, frame: () => Frame): Promise<number | undefined>;
  readonly maxRecordSize: number;
}

/**
 * Copies the planned entries forward, reading their records once each in LSN order and
 * writing copy records of up to `maxRecordSize` bytes per stream, then an image of each
 * stream whose base lies below the boundary. Resolves once all are in the log.
 */
export async function copyForward(
  host: CopyHost,
  plan: readonly PlannedStream[],
): Promise<
  Pick<CompactResult, 'streamsCopied' | 'recordsCopied' | 'bytesCopied' | 'streamsTooLarge'>
> {
  const byLsn = new Map<number, { stream: StreamState; entries: number[] }>();
  for (const { stream, entries } of plan) {
    for (const i of entries) {
      const lsn = stream.index.lsn(i);
      const at = byLsn.get(lsn);
      if (at === undefined) byLsn.set(lsn, { stream, entries: [i] });
      else at.entries.push(i);
    }
  }
  const writes: Promise<number>[] = [];
  const tooLarge = new Set<string>();
  let recordsCopied = 0;
  // `entries`: the records a copy moves, not counted as copied if it was left out.
  const write = (stream: StreamState, frame: () => Frame, entries: number) =>
    writes.push(
      host.write(stream, frame).then((bytes) => {
        if (bytes !== undefined) return bytes;
        tooLarge.add(stream.name);
        recordsCopied -= entries;
        return 0;
      }),
    );
  const pending = new Map<StreamState, { entries: CopiedEntry[]; bytes: number }>();
  let pendingBytes = 0;
  const flush = (stream: StreamState) => {
    const copies = pending.get(stream);
    if (copies === undefined) return;
    pending.delete(stream);
    pendingBytes -= copies.bytes;
    const frame: Frame = { op: Op.COPY, streamId: stream.id, entries: copies.entries };
    write(stream, () => frame, copies.entries.length);
  };
  for (const at of [...byLsn.keys()].sort((a, b) => a - b)) {
    const { stream, entries } = byLsn.get(at)!;
    const lsn = BigInt(at);
    if (stream.deleted) continue;
    const inRecord = entryFinder(recordEntries(decodeFrame(await host.read(lsn), lsn)));
    for (const i of entries) {
      const start = stream.index.start(i);
      const entry = inRecord(start);
      if (entry === undefined) throw new Error(`record ${lsn} holds no entry at ${start}`);
      const size = copiedEntrySize(entry.payloads);
      const held = pending.get(stream);
      if (held !== undefined && COPY_HEAD + held.bytes + size > host.maxRecordSize) flush(stream);
      const copies = pending.get(stream) ?? { entries: [], bytes: 0 };
      pending.set(stream, copies);
      copies.entries.push({ start, payloads: entry.payloads });
      copies.bytes += size;
      pendingBytes += size;
      recordsCopied++;
    }
    if (pendingBytes > PENDING_BYTES) for (const stream of [...pending.keys()]) flush(stream);
  }
  for (const stream of [...pending.keys()]) flush(stream);
  for (const { stream, image } of plan) {
    if (image && !stream.deleted) {
      const image = (): Frame => ({ op: Op.IMAGE, streamId: stream.id, image: imageOf(stream) });
      write(stream, image, 0);
    }
  }
  const sizes = await Promise.all(writes);
  return {
    streamsCopied: plan.filter((p) => !p.stream.deleted).length,
    recordsCopied,
    bytesCopied: sizes.reduce((sum, size) => sum + size, 0),
    streamsTooLarge: [...tooLarge].sort(),
  };
}

/** The index entries a record holds: an append's, a create's first records, a copy's. */
export function recordEntries(frame: Frame): readonly CopiedEntry[] {
  if (frame.op === Op.APPEND) return [{ start: frame.firstOffset, payloads: frame.payloads }];
  if (frame.op === Op.CREATE) return [{ start: 0, payloads: frame.payloads }];
  if (frame.op === Op.COPY) return frame.entries;
  return [];
}

/**
 * Finds one record's entries by their start, asked for in offset order. A copy holds up to a
 * record's worth of a stream's appends, in the LSN order of what it copied, which is mostly
 * but not always offset order: the entry after the last one found is tried first, and a map
 * is built only when that misses (a search per entry made reading a copy quadratic).
 */
export function entryFinder(
  entries: readonly CopiedEntry[],
): (start: number) => CopiedEntry | undefined {
  let next = 0;
  let byStart: Map<number, number> | undefined;
  return (start) => {
    let at: number | undefined = next;
    if (entries[at]?.start !== start) {
      byStart ??= new Map(entries.map((e, i) => [e.start, i]));
      at = byStart.get(start);
      if (at === undefined) return undefined;
    }
    next = at + 1;
    return entries[at];
  };
}

/** What a compaction needs of the streams. */
export interface CompactionHost extends Omit<CopyHost, 'read'> {
  readonly wal: Wal;
  /** What to copy below `below`, taken with no call in flight (undefined: no such moment). */
  plan(below: bigint): Promise<CompactionPlan | undefined>;
  /** Checkpoints, waits for the reads under way, and deletes what nothing needs. */
  finish(): Promise<{ segmentsDeleted: number; bytesReclaimed: number }>;
}

/**
 * Copies the live records of the sealed segments forward, then has the host checkpoint and
 * delete the segments (decision 0717).
 */
export async function compactLog(host: CompactionHost): Promise<CompactResult> {
  // Under durability 'none' or 'interval' the segments are listed as far as written out.
  await host.wal.flush();
  const below = compactionBoundary(await host.wal.segments(), host.wal.floorLsn);
  const plan = below === undefined ? undefined : await host.plan(below);
  let copied = {
    streamsCopied: 0,
    recordsCopied: 0,
    bytesCopied: 0,
    streamsTooLarge: [] as readonly string[],
  };
  if (plan !== undefined) {
    const reader = new StreamRecordReader(host.wal);
    try {
      copied = await copyForward({ ...host, read: (lsn) => reader.read(lsn) }, plan.streams);
    } finally {
      await reader.close();
    }
  }
  const { segmentsDeleted, bytesReclaimed } = await host.finish();
  const tooLarge = [...new Set([...(plan?.tooLarge ?? []), ...copied.streamsTooLarge])].sort();
  return {
    belowLsn: plan?.below ?? below ?? 0n,
    ...copied,
    streamsTooLarge: tooLarge,
    segmentsDeleted,
    bytesReclaimed,
  };
}
